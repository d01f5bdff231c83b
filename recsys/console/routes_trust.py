"""The trust registry (trust role): verify or revoke artists, labels and partners, flag tracks.

The same state functions as ``recsys trust`` and ``POST /v1/flags``, each change with its
audit record in one transaction. A revocation (and a flag) counts at the next read: the live
engine recomputes what is withheld before the page comes back. A grant counts at the next
pool build. A grant or revocation naming an id neither the registry nor the delivery the pool
was built from knows is refused as a likely typo, unless the form says the id comes ahead of
its delivery (the registry can come first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pool.fields import FieldError, check_choice, check_id, check_score, check_text
from pool.model import AiFlag, FlagSource, TrustKind
from pool.state import add_flag, search_trust, set_trust
from recsys.api.trail import synced_after_commit
from recsys.console.web import (
    TRUST,
    ConsoleRefusalError,
    Posted,
    SignedIn,
    Staff,
    field,
    redirect,
    render,
    require,
)
from recsys.curation.pool_names import pool_label_names, unknown_track, unknown_trust_subject

router = APIRouter(include_in_schema=False)
KINDS = frozenset({"artist", "label", "partner"})
SOURCES = frozenset({"curator", "label", "detector", "listener"})
SHOWN = 200


def _registry(staff: Staff, kind: str, q: str) -> tuple[list[dict[str, Any]], int]:
    found = staff.services
    catalog = found.live.current().context.catalog
    labels = pool_label_names(found.settings.state_dir, catalog.pool_version)
    which = cast(TrustKind, kind) if kind in KINDS else None
    rows, total = search_trust(found.conn(), which, q.strip(), SHOWN)
    for row in rows:
        names = catalog.artist_names if row["kind"] == "artist" else labels
        row["name"] = names.get(row["id"]) if row["kind"] != "partner" else None
    return rows, total


@router.get("/console/trust", name="console.trust")
async def trust_page(
    staff: SignedIn,
    kind: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    done: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    require(staff, TRUST, "The trust registry")
    rows, total = await run_in_threadpool(_registry, staff, kind, q)
    return render("trust.html", staff=staff, rows=rows, total=total, kind=kind, q=q, done=done)


def _change_trust(request: Request, staff: Staff, form: dict[str, str]) -> str:
    kind = cast(TrustKind, check_choice(field(form, "kind"), "kind", KINDS))
    subject = check_id(field(form, "subject"), "id")
    why = check_text(field(form, "why"), "why")
    change = field(form, "change")
    if change not in ("grant", "revoke"):
        raise FieldError("change", "must be grant or revoke")
    found = staff.services
    conn = found.conn()
    trusted = change == "grant"
    if not field(form, "ahead_of_delivery"):
        unknown = unknown_trust_subject(conn, found.settings.state_dir, kind, subject)
        if unknown is not None:
            raise FieldError("id", f"{unknown} (tick “not delivered yet”)")
    by, role, now = staff.name, staff.role, found.now()
    set_trust(conn, kind, subject, trusted=trusted, by=by, why=why, now=now, role=role)
    if trusted:
        return f"{kind} {subject} trusted; it counts at the next pool build."
    synced_after_commit(request, found.live.refresh_exclusions)
    return f"{kind} {subject} revoked; its tracks leave every answer from the next read."


async def _apply(
    request: Request,
    staff: Staff,
    form: dict[str, str],
    change: Callable[[Request, Staff, dict[str, str]], str],
) -> Response:
    """A trust-team form's change, then the registry page saying what it did."""
    try:
        done = await run_in_threadpool(change, request, staff, form)
    except FieldError as error:
        raise ConsoleRefusalError(422, "Change refused", str(error)) from None
    return redirect(f"/console/trust?done={quote(done)}")


@router.post("/console/trust", name="console.trust_change")
async def change_trust(request: Request, staff: SignedIn, form: Posted) -> Response:
    require(staff, TRUST, "Changing the trust registry")
    return await _apply(request, staff, form, _change_trust)


def _flag(request: Request, staff: Staff, form: dict[str, str]) -> str:
    track_id = check_id(field(form, "track_id"), "track_id")
    source = cast(FlagSource, check_choice(field(form, "source"), "source", SOURCES))
    try:
        score = check_score(float(field(form, "score")), "score")
    except ValueError:
        raise FieldError("score", "must be a number between 0 and 1") from None
    why = check_text(field(form, "why"), "why")
    found = staff.services
    pool_tracks = found.live.current().context.catalog.tracks
    if not field(form, "ahead_of_delivery"):
        unknown = unknown_track(found.conn(), found.settings.state_dir, track_id, pool_tracks)
        if unknown is not None:
            raise FieldError("track_id", f"{unknown} (tick “not delivered yet”)")
    add_flag(
        found.conn(),
        AiFlag(track_id, source, score, found.now()),
        by=staff.name,
        why=why,
        role=staff.role,
    )
    synced_after_commit(request, found.live.refresh_exclusions)
    withheld = track_id in found.live.engine.gate.exclusions.withheld()
    known = track_id in found.live.engine.context.catalog.tracks
    state = "withheld from the next read" if withheld else "not withheld by the rules"
    where = "" if known else " (not in the current pool: it counts when a delivery brings it)"
    return f"{track_id} flagged ({source}, {score:.2f}): {state}{where}."


@router.post("/console/flags", name="console.flag")
async def flag_track(request: Request, staff: SignedIn, form: Posted) -> Response:
    require(staff, TRUST, "Flagging tracks")
    return await _apply(request, staff, form, _flag)
