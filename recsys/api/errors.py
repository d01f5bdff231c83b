"""Errors of the HTTP API and the one JSON shape every one of them takes.

::

    ApiError                    raised on purpose by a route or a dependency
    ├── 401 unauthorized        no bearer token, or one the state does not know (or revoked)
    ├── 403 forbidden           a known token whose role may not call this endpoint
    ├── 404 not_found           an artist, track, link or exclusion that does not exist
    └── 422 invalid             a path, query or body field that fails validation (``field``),
                                text that UTF-8 cannot encode (a lone surrogate) included

    mapped from other errors by ``recsys.api.app``:
    RequestValidationError      -> 422 invalid (FastAPI's own parsing, rewritten to our shape)
    HTTPException 400           -> 422 invalid, field "body" (a body that is not even UTF-8)
    recsys.errors.NotFoundError -> 404 not_found
    recsys.errors.UserErasedError
                                -> 410 erased (a write for a user who was erased; nothing kept)
    pool.errors.ReviewRefusedError
                                -> 409 conflict (a review the four-eyes or rights-holder rules
                                   refuse)
    StoreUnavailableError       -> 503 store_unavailable (only where nothing was committed, or
                                   an erasure whose store copy is left: routes whose change
                                   committed answer success with "store_sync": "pending")
    sqlite3.OperationalError    -> 503 state_unavailable (the state stayed locked too long)
    recsys.errors.CorruptFileError, and a sqlite3.DatabaseError that is not an
    OperationalError, IntegrityError or ProgrammingError
                                -> 503 corrupt_state (a damaged file: which one if known, and
                                   what to do; the traceback stays in the server's log)
    anything else               -> 500 internal, logged with its traceback on the server only

A client always gets ``{"error": "<code>", "detail": "<sentence>"}`` (plus ``"field"`` on a
422), never a stack trace: the code is for programs, the detail for the person reading logs.
The detail and field are made encodable (a lone surrogate becomes ``\\ud800``) before they
are kept, since a refused value may be quoted in them and they are rendered as JSON and
written to the audit trail, both UTF-8.
"""

from __future__ import annotations

from collections.abc import Mapping

from pool.fields import FieldError


class ApiError(Exception):
    """An expected failure with its HTTP status, short code and human-readable detail."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        detail = encodable(detail)
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = None if field is None else encodable(field)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return error_body(self.code, self.detail, self.field)


def encodable(text: str) -> str:
    """``text`` with every code point UTF-8 cannot encode (lone surrogates) written as an
    escape: a field name or detail quoting a refused value must still render and be stored."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(code: str, detail: str, field: str | None = None) -> dict[str, str]:
    body = {"error": code, "detail": detail}
    if field is not None:
        body["field"] = field
    return body


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def erased() -> ApiError:
    """410: the write names an erased user. The detail is fixed on purpose: it is kept in
    the append-only audit trail, which must never hold a raw user id."""
    return ApiError(410, "erased", "this user was erased; nothing is stored under their id")


def conflict(detail: str) -> ApiError:
    return ApiError(409, "conflict", detail)


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", detail)


def invalid_field(field: str, reason: str) -> ApiError:
    return ApiError(422, "invalid", f"field '{field}': {reason}", field=field)


def from_field_error(error: FieldError) -> ApiError:
    """A validator's ``FieldError`` (the CLI's and the feeds' own checks) as a 422."""
    return ApiError(422, "invalid", str(error), field=error.field)
