"""The audit record of a call that did not go through: refused, invalid or failed.

A successful change writes its own record, in the same transaction as the change (the domain
functions do it). Every other outcome of a mutating call, and every refused call (401/403) of
any method, gets exactly one record here, so the trail shows attempts as well as changes.
Routes mark a request as audited once their change has committed, so a failure after that
point (the store not answering, say) does not add a second record.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from pool.audit import AuditEntry, append_audit
from recsys.api.auth import ANONYMOUS, caller_of
from recsys.api.services import Services

log = logging.getLogger(__name__)
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def mark_audited(request: Request) -> None:
    request.state.audited = True


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
    """Record a refused call, or a mutating call that failed, unless already recorded."""
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
    route = request.scope.get("route")
    fallback = str(getattr(route, "path", request.url.path))
    entry = AuditEntry(
        at=found.now(),
        actor=principal.name if principal else ANONYMOUS,
        role=principal.role if principal else ANONYMOUS,
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
