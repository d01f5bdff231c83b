"""Errors of the HTTP API and the one JSON shape every one of them takes.

::

    ApiError                    raised on purpose by a route or a dependency
    ├── 401 unauthorized        no bearer token, or one the state does not know (or revoked)
    ├── 403 forbidden           a known token whose role may not call this endpoint
    ├── 404 not_found           an artist, track, link or exclusion that does not exist
    └── 422 invalid             a path, query or body field that fails validation (``field``)

    mapped from other errors by ``recsys.api.app``:
    RequestValidationError      -> 422 invalid (FastAPI's own parsing, rewritten to our shape)
    HTTPException 400           -> 422 invalid, field "body" (a body that is not even UTF-8)
    recsys.errors.NotFoundError -> 404 not_found
    StoreUnavailableError       -> 503 store_unavailable
    sqlite3.OperationalError    -> 503 state_unavailable (the state stayed locked too long)
    anything else               -> 500 internal, logged with its traceback on the server only

A client always gets ``{"error": "<code>", "detail": "<sentence>"}`` (plus ``"field"`` on a
422), never a stack trace: the code is for programs, the detail for the person reading logs.
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
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return error_body(self.code, self.detail, self.field)


def error_body(code: str, detail: str, field: str | None = None) -> dict[str, str]:
    body = {"error": code, "detail": detail}
    if field is not None:
        body["field"] = field
    return body


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", detail)


def invalid_field(field: str, reason: str) -> ApiError:
    return ApiError(422, "invalid", f"field '{field}': {reason}", field=field)


def from_field_error(error: FieldError) -> ApiError:
    """A validator's ``FieldError`` (the CLI's and the feeds' own checks) as a 422."""
    return ApiError(422, "invalid", str(error), field=error.field)
