"""The HTTP API of docs/contract.md section 5 (FastAPI), served by ``recsys serve``.

Modules: ``app`` (the factory and error handling), ``auth`` (bearer tokens and roles),
``live`` (per-thread state connections and the engine kept current), ``routes_*`` (the
endpoints), ``schemas`` (bodies and OpenAPI shapes), ``errors`` (the error tree),
``trail`` (audit records of refused and failed calls).
"""

from recsys.api.app import create_app

__all__ = ["create_app"]
