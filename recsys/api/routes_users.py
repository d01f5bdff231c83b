"""Per-listener changes: "don't play this" exclusions (the app) and erasure (admins).

Exclusions are read fresh from the state on every listener read, so a change here needs no
engine refresh and no store sync: it never waits on, or fails with, the store. An exclusion
for an erased user is refused (410 ``erased``, from ``UserErasedError``) with nothing stored.

Erasure removes the user's rows, stored mixes and model rows, then reloads the engine so the
very next read treats them as a listener never seen (cold start). Unlike a flag, an erasure
whose store copy could not be removed still answers 503: its state part (tombstone, audit
record) is committed, but the user's mixes are still in the store and nothing removes them by
itself but a repeated call or the next rebuild, so the caller must be told to repeat it;
repeating is harmless (nothing is duplicated). Only when the store copy is gone and the
engine's own sync (withheld tracks) is what failed does it answer 200, with
``"store_sync": "pending"``.
"""

from __future__ import annotations

import sqlite3
from contextlib import suppress
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from pool.audit import AuditEntry, append_audit
from pool.state import transaction
from recsys.api.auth import AuthFirstRoute, Principal, require_role
from recsys.api.errors import not_found
from recsys.api.responses import json_response
from recsys.api.schemas import (
    ERASED_RESPONSE,
    ERROR_RESPONSES,
    ErasureOut,
    ExclusionIn,
    ExclusionOut,
    Id,
)
from recsys.api.services import Services, services
from recsys.api.trail import mark_audited, synced_after_commit
from recsys.state.privacy import erase_user
from recsys.state.user_feeds import ExclusionKind, UserExclusion
from recsys.state.users import set_exclusion
from recsys.store.base import StoreUnavailableError

router = APIRouter(responses=ERROR_RESPONSES, route_class=AuthFirstRoute)
Found = Annotated[Services, Depends(services)]
App = Annotated[Principal, Depends(require_role("app"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


def _is_active(conn: sqlite3.Connection, exclusion: UserExclusion) -> bool:
    row = conn.execute(
        "SELECT active FROM user_exclusions WHERE user_id = ? AND kind = ? AND target_id = ?",
        (exclusion.user_id, exclusion.kind, exclusion.target_id),
    ).fetchone()
    return row is not None and bool(row[0])


def _change_exclusion(
    found: Services, caller: Principal, exclusion: UserExclusion, *, active: bool
) -> bool:
    """Set one exclusion and write its audit record in one transaction; True if it changed."""
    conn, now = found.conn(), found.now()
    action = "exclusions.add" if active else "exclusions.remove"
    target = {"kind": exclusion.kind, "id": exclusion.target_id}
    with transaction(conn):
        before = _is_active(conn, exclusion)
        if not active and not before:
            raise not_found(f"there is no active {exclusion.kind} exclusion of that id")
        changed = set_exclusion(conn, exclusion, active=active, now=now)
        append_audit(
            conn,
            AuditEntry(
                now,
                caller.name,
                caller.role,
                action,
                found.audit_subject(exclusion.user_id),
                target | {"active": before},
                target | {"active": active},
                "listener request through the app",
            ),
        )
    return changed


@router.post(
    "/v1/users/{user_id}/exclusions",
    response_model=ExclusionOut,
    name="exclusions.add",
    responses=ERASED_RESPONSE,
)
def add_exclusion(
    user_id: Id, body: ExclusionIn, request: Request, found: Found, caller: App
) -> Response:
    exclusion = UserExclusion(user_id, body.kind, body.id)
    changed = _change_exclusion(found, caller, exclusion, active=True)
    mark_audited(request)
    return json_response(
        {"user_id": user_id, "kind": body.kind, "id": body.id, "active": True, "changed": changed}
    )


@router.delete(
    "/v1/users/{user_id}/exclusions/{kind}/{id}",
    response_model=ExclusionOut,
    name="exclusions.remove",
    responses=ERASED_RESPONSE,
)
def remove_exclusion(
    *,
    user_id: Id,
    kind: Literal["artist", "track"],
    target_id: Annotated[Id, Path(alias="id")],
    request: Request,
    found: Found,
    caller: App,
) -> Response:
    exclusion_kind: ExclusionKind = kind
    exclusion = UserExclusion(user_id, exclusion_kind, target_id)
    changed = _change_exclusion(found, caller, exclusion, active=False)
    mark_audited(request)
    return json_response(
        {"user_id": user_id, "kind": kind, "id": target_id, "active": False, "changed": changed}
    )


@router.delete("/v1/users/{user_id}", response_model=ErasureOut, name="users.erase")
def erase(user_id: Id, request: Request, found: Found, caller: Admin) -> Response:
    settings = found.settings
    try:
        removed = erase_user(
            found.conn(),
            settings.state_dir,
            found.store,
            user_id,
            actor=caller.name,
            role=caller.role,
            now=found.now(),
        )
    except StoreUnavailableError:
        # The state's part (with its audit record) committed before the store was asked;
        # repeating the call finishes the erasure. The engine drops the user's history and
        # factors now all the same (its swap comes before the store sync that may fail again).
        mark_audited(request)
        with suppress(StoreUnavailableError):
            found.live.reload()
        raise
    store_sync = synced_after_commit(request, found.live.reload)
    return json_response({"erased": True, "removed": removed, "store_sync": store_sync})
