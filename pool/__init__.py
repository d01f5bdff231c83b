"""The trust-gated candidate pool.

This package decides which catalog tracks humans can vouch for. It never imports ``recsys``:
the engine depends on the pool, never the other way round, so the gate cannot be bent by
anything the recommender does.
"""

__all__ = [
    "ai_status",
    "audit",
    "builder",
    "bulk",
    "catalog",
    "errors",
    "feeds",
    "fields",
    "files",
    "gate",
    "importer",
    "model",
    "snapshot",
    "state",
    "trust_import",
]
