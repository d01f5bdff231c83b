"""The app factory: one FastAPI app over one state folder and one mix store.

``create_app(settings, clock)`` is the only place the API is assembled; settings and the clock
are parameters, so the command line, the tests and the benchmark build the same app. Loading
the engine happens here, eagerly: a server with no pool to serve fails at start with a clear
message instead of answering 500s.

Error handling is gathered here too (the tree is in ``recsys.api.errors``): every failure
leaves as ``{"error", "detail"}`` JSON, refused and failed calls are audited, and an unexpected
exception is logged with its traceback on the server and answered with a generic 500.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pool.errors import ReviewRefusedError
from pool.fields import FieldError
from recsys import __version__
from recsys.api import routes_listener, routes_staff, routes_users
from recsys.api.docs_page import install_docs
from recsys.api.errors import ApiError, conflict, erased, error_body, invalid_field
from recsys.api.live import Clock, LiveEngine, StateConnections
from recsys.api.reads import STORE_COOLDOWN_S, ListenerReads
from recsys.api.responses import JsonResponse, json_response
from recsys.api.services import Services
from recsys.api.trail import audit_failure
from recsys.errors import CorruptFileError, NotFoundError, UserErasedError
from recsys.settings import Settings
from recsys.state.privacy import user_hash_key
from recsys.state.schema import open_engine_state
from recsys.state.tokens import ensure_tokens_schema
from recsys.store.base import MixStore, StoreUnavailableError
from recsys.store.factory import open_store

DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
DEFAULT_RADIO_CACHE_BYTES = 16 * 1024 * 1024
log = logging.getLogger(__name__)
access_log = logging.getLogger("recsys.api.access")

DESCRIPTION = """Curated recommendations from a trust-gated pool (docs/contract.md section 5).

Listener reads are open to the app's network; every other endpoint needs
`Authorization: Bearer <token>` with a role of app, curator, trust or admin (admin may call
everything). Errors are `{"error": "<code>", "detail": "..."}`."""


class DocumentedJsonResponse(JsonResponse, JSONResponse):
    """``JsonResponse`` as FastAPI's OpenAPI generator needs to see it.

    FastAPI documents a route's ``response_model`` only when the response class derives from
    its ``JSONResponse``; with ``JsonResponse`` alone every success answer in
    ``/openapi.json`` was ``{"type": "string"}``, which no client generator can use and which
    schemathesis rejects. Rendering stays ``JsonResponse``'s (first in the MRO); routes return
    their responses ready-made, so this class only changes the document.
    """


def create_app(
    settings: Settings,
    clock: Clock,
    *,
    store: MixStore | None = None,
    check_interval_s: float = 1.0,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    radio_cache_bytes: int = DEFAULT_RADIO_CACHE_BYTES,
    store_cooldown_s: float = STORE_COOLDOWN_S,
) -> FastAPI:
    """The API over ``settings.state_dir`` and the configured store, at times ``clock()``.

    ``check_interval_s``: how often the server looks for changes made elsewhere (a rebuild,
    the staff CLI, another worker). ``cache_bytes`` / ``radio_cache_bytes``: the bounds of
    the rendered-answer caches of ``recsys.api.reads`` (0 turns one off).
    ``store_cooldown_s``: how long listener reads leave a store alone after it failed.
    """
    conn = open_engine_state(settings.state_dir)
    try:
        ensure_tokens_schema(conn)
        user_key = user_hash_key(conn, clock())
    finally:
        conn.close()
    store = store if store is not None else open_store(settings)
    state = StateConnections(settings.state_dir)
    try:
        live = LiveEngine(settings, store, state, clock, check_interval_s=check_interval_s)
    except BaseException:
        state.close_all()
        store.close()
        raise
    found = Services(settings, clock, state, store, live, user_key)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.close_all()
            store.close()

    app = FastAPI(
        title="recsys",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=DocumentedJsonResponse,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = found
    app.state.reads = ListenerReads(
        found,
        stored_bytes=cache_bytes,
        radio_bytes=radio_cache_bytes,
        store_cooldown_s=store_cooldown_s,
    )
    # Imported here: the console builds on this package's modules (auth, trail, services),
    # which importing it at the top would load half-made through ``recsys.api``.
    from recsys.console.mount import install_console  # noqa: PLC0415

    install_console(app)
    for router in (routes_listener.router, routes_staff.router, routes_users.router):
        app.include_router(router)
    install_docs(app)
    install_error_handlers(app)
    app.add_middleware(RequestLog)
    return app


def _respond(request: Request, error: ApiError) -> JsonResponse:
    audit_failure(request, error.status, error.detail)
    return json_response(error.body(), error.status, error.headers)


def handle_api_error(request: Request, error: Exception) -> JsonResponse:
    if not isinstance(error, ApiError):
        raise error
    return _respond(request, error)


def validation_failure(error: RequestValidationError) -> ApiError:
    """FastAPI's list of pydantic errors as one 422 naming the first bad field."""
    errors = list(error.errors())
    if not errors:
        return invalid_field("body", "is not valid")
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ())]
    field = ".".join(loc[1:]) or (loc[0] if loc else "body")
    kind = first.get("type", "")
    cause = (first.get("ctx") or {}).get("error")
    if kind == "missing":
        reason = "is missing"
    elif kind == "json_invalid":
        field, reason = "body", "is not valid JSON"
    elif kind == "extra_forbidden":
        reason = "is not a field of this request"
    elif isinstance(cause, FieldError):
        reason = str(cause).removeprefix(f"field '{cause.field}': ")
    else:
        reason = str(first.get("msg", "is not valid"))
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more problems)"
    return invalid_field(field, reason)


def handle_validation(request: Request, error: Exception) -> JsonResponse:
    if not isinstance(error, RequestValidationError):
        raise error
    return _respond(request, validation_failure(error))


def handle_http(request: Request, error: Exception) -> JsonResponse:
    """Starlette's own errors (unknown path, wrong method) in our shape."""
    if not isinstance(error, HTTPException):
        raise error
    if error.status_code == 400:
        # FastAPI's answer to a body it cannot even decode (bytes that are not UTF-8, say):
        # a bad body like any other, so the documented 422 naming the body.
        return _respond(request, invalid_field("body", "is not valid UTF-8 JSON"))
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    detail = error.detail if isinstance(error.detail, str) else "request refused"
    return _respond(request, ApiError(error.status_code, code, detail, headers=error.headers))


def handle_not_found(request: Request, error: Exception) -> JsonResponse:
    return _respond(request, ApiError(404, "not_found", str(error)))


def handle_store_unavailable(request: Request, error: Exception) -> JsonResponse:
    log.warning("store unavailable: %s", error)
    detail = "the mix store did not answer; try again shortly"
    return _respond(request, ApiError(503, "store_unavailable", detail))


def handle_state_busy(request: Request, error: Exception) -> JsonResponse:
    log.warning("state unavailable: %s", error)
    detail = "the state database is busy; try again shortly"
    return _respond(request, ApiError(503, "state_unavailable", detail))


def handle_user_erased(request: Request, error: Exception) -> JsonResponse:
    # Never str(error): the detail goes into the audit trail, which must not hold a raw id.
    return _respond(request, erased())


def handle_review_refused(request: Request, error: Exception) -> JsonResponse:
    return _respond(request, conflict(str(error)))


def handle_corrupt_file(request: Request, error: Exception) -> JsonResponse:
    """A damaged file named by ``CorruptFileError``'s message, which also says what to do.

    The state folder's absolute path is written as ``$RECSYS_STATE_DIR``: the operator
    knows where it is, a client has no use for the server's layout."""
    log.error("corrupt file: %s", error, exc_info=error)
    detail = str(error)
    found: Services | None = getattr(request.app.state, "services", None)
    if found is not None:
        detail = detail.replace(str(found.settings.state_dir), "$RECSYS_STATE_DIR")
    return _respond(request, corrupt_state(detail))


# sqlite3.DatabaseError subclasses that are not a damaged file: a constraint or the
# append-only triggers (IntegrityError), a misuse of the API (ProgrammingError). Those are
# bugs, answered 500 and logged; telling an operator to restore a backup would mislead.
NOT_CORRUPTION = (sqlite3.IntegrityError, sqlite3.ProgrammingError)


def handle_database_error(request: Request, error: Exception) -> JsonResponse:
    """SQLite's own word for a damaged file ("file is not a database", "database disk image
    is malformed"), which does not say which file: the state or the embedded store."""
    if not isinstance(error, sqlite3.DatabaseError) or isinstance(error, NOT_CORRUPTION):
        raise error
    log.error("state or store database damaged: %s", error, exc_info=error)
    detail = (
        f"a database file of the state folder is damaged ({error}): restore state.sqlite3"
        " from a backup, or run `recsys rebuild` if only the embedded store (mixes.sqlite3)"
        " is damaged; the server's log has the details"
    )
    return _respond(request, corrupt_state(detail))


def corrupt_state(detail: str) -> ApiError:
    return ApiError(503, "corrupt_state", detail)


def install_error_handlers(app: FastAPI) -> None:
    """Starlette picks the handler of the nearest class in the exception's MRO, so an
    OperationalError (busy) is never taken for a damaged file (DatabaseError)."""
    app.add_exception_handler(ApiError, handle_api_error)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(HTTPException, handle_http)
    app.add_exception_handler(NotFoundError, handle_not_found)
    app.add_exception_handler(UserErasedError, handle_user_erased)
    app.add_exception_handler(ReviewRefusedError, handle_review_refused)
    app.add_exception_handler(StoreUnavailableError, handle_store_unavailable)
    app.add_exception_handler(sqlite3.OperationalError, handle_state_busy)
    app.add_exception_handler(CorruptFileError, handle_corrupt_file)
    app.add_exception_handler(sqlite3.DatabaseError, handle_database_error)


class RequestLog:
    """Access log without raw user ids, and the last line of defence against a traceback.

    uvicorn's own access log prints the raw path, which carries user ids; this logs the route
    template and the user's keyed hash instead. An exception no handler took is logged here
    with its traceback and answered with a generic 500 (Starlette would re-raise it).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_noting_status(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = int(message["status"]), True
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except Exception:
            log.exception("unexpected error in %s %s", scope["method"], _route_path(scope))
            if response_started:
                return  # too late for a clean answer; the connection just ends
            request = Request(scope)
            detail = "an unexpected error occurred; it was logged on the server"
            await run_in_threadpool(audit_failure, request, 500, "unexpected error")
            response = json_response(error_body("internal", detail), 500)
            await response(scope, receive, send_noting_status)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %d %.1fms %s",
                    scope["method"],
                    _route_path(scope),
                    status,
                    (time.perf_counter() - started) * 1000,
                    _user_ref(scope),
                )


def _route_path(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", "(no route)"))


def _user_ref(scope: Scope) -> str:
    params: dict[str, Any] = scope.get("path_params") or {}
    user_id = params.get("user_id")
    if user_id is None:
        return "-"
    found: Services = scope["app"].state.services
    return found.user_ref(str(user_id))
