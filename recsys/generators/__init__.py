"""Generators: personal mixes and Release Radar in one compiled implementation
(``batch_kernel``, driven by ``batch`` for a rebuild's chunk of listeners or one listener on
request; ``batch_arrays`` is the engine as the integer arrays it reads), radios (``radio``,
held to the same repetition rules), the lookups they share (``catalog_index``,
``neighbourhood``, ``taste_clusters``, ``context``) and the registry that runs them through
the final filter (``registry``; results in ``result``).
"""

__all__ = [
    "batch",
    "batch_arrays",
    "batch_kernel",
    "catalog_index",
    "context",
    "neighbourhood",
    "radio",
    "registry",
    "result",
    "taste_clusters",
]
