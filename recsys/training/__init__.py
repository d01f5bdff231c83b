"""One training run: import, listens, fraud screen, ALS, history (``run``). The stages
themselves live in ``recsys.listening``, ``recsys.embeddings``, ``recsys.curation`` and
``recsys.graph``.
"""

__all__ = ["run"]
