"""The audit record of a call that did not go through, and the sync after one that did.

A successful change writes its own record, in the same transaction as the change (the domain
functions do it). Every other outcome of a mutating call, and every call refused to a known
token (403) of any method, gets exactly one record here, so the trail shows attempts as well
as changes. A call refused for want of a valid token (401: none, or one the state does not
know) is counted instead, in its minute's row of ``anonymous_refusals`` (``pool.audit`` says
why): such calls cost no one a credential, so they must not grow the trail without bound.

Routes mark a request as audited once their change has committed (``synced_after_commit``),
so a failure after that point does not add a second record. The state is the source of
truth: a committed change answers success even when the store does not answer the sync that
follows (the flag, review or link is in force, the live engine already serves it, and the
store catches up at the engine's next check); the answer says ``"store_sync": "pending"``.
A 503 there would make a client retry a change that was made, and flags would be doubled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from fastapi import Request

from pool.audit import AuditEntry, append_audit, count_anonymous_refusal
from recsys.api.auth import bearer_secret, caller_of
from recsys.api.services import Services
from recsys.store.base import StoreUnavailableError

log = logging.getLogger(__name__)
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
StoreSync = Literal["done", "pending"]


def mark_audited(request: Request) -> None:
    request.state.audited = True


def synced_after_commit(request: Request, sync: Callable[[], None]) -> StoreSync:
    """Mark the committed (and audited) change of ``request``, then run the engine's
    ``sync``; "pending" if the store did not answer it.

    ``LiveEngine`` swaps in the new engine before it tells the store, and remembers a store
    it could not tell (``_store_behind``) to tell it at its next check, so the change is
    served at once and the store catches up by itself."""
    mark_audited(request)
    try:
        sync()
    except StoreUnavailableError as error:
        log.warning("change committed; the store sync is pending: %s", error)
        return "pending"
    return "done"


def route_action(request: Request) -> str:
    """The audit action of the route called (its name), or the raw method and path."""
    route = request.scope.get("route")
    name = getattr(route, "name", None)
    return str(name) if name else f"{request.method} {request.url.path}"


def _printable(text: str, limit: int = 200) -> str:
    """An id as a refused call sent it may be anything; the trail keeps a safe short form."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def subject_of(found: Services, path_params: dict[str, Any], fallback: str) -> str:
    """What the call was about, with a user id replaced by its keyed hash."""
    if "user_id" in path_params:
        return found.audit_subject(str(path_params["user_id"]))
    if "artist_a" in path_params and "artist_b" in path_params:
        return _printable(f"{path_params['artist_a']}|{path_params['artist_b']}")
    if "track_id" in path_params:
        return _printable(str(path_params["track_id"]))
    return _printable(fallback)


def result_for(status: int) -> str:
    if status in (401, 403):
        return "denied"
    if status < 500:
        return "invalid"
    return "error"


def audit_failure(request: Request, status: int, detail: str) -> None:
    """Record a refused call, or a mutating call that failed, unless already recorded; a
    call without a valid token is counted rather than recorded."""
    if getattr(request.state, "audited", False):
        return
    # Reads are not audited unless refused, nor requests that matched no endpoint at all.
    unaudited = request.method not in MUTATING_METHODS or request.scope.get("route") is None
    if status not in (401, 403) and unaudited:
        return
    found: Services | None = getattr(request.app.state, "services", None)
    if found is None:
        return
    principal = caller_of(request)
    if principal is None:
        _count_anonymous(request, found, status)
        return
    route = request.scope.get("route")
    fallback = str(getattr(route, "path", request.url.path))
    entry = AuditEntry(
        at=found.now(),
        actor=principal.name,
        role=principal.role,
        action=route_action(request),
        subject=subject_of(found, dict(request.path_params), fallback),
        before=None,
        after={"status": status},
        why=detail[:1024],
        result=result_for(status),
    )
    try:
        append_audit(found.conn(), entry)
    except Exception:
        # The refusal itself stands; losing its record must not turn it into a 500.
        log.exception("could not write the audit record of a refused call")
        return
    mark_audited(request)


def _count_anonymous(request: Request, found: Services, status: int) -> None:
    """Count a call refused to a caller without a valid token in its minute's row."""
    reason = "no token" if bearer_secret(request) is None else "unknown token"
    # Only a matched route's name: a raw path is the caller's to vary, one row per variant.
    route = request.scope.get("route")
    action = str(getattr(route, "name", None) or "(no route)")
    try:
        count_anonymous_refusal(found.conn(), found.now(), action, status, reason)
    except Exception:
        log.exception("could not count a refused anonymous call")
        return
    mark_audited(request)
