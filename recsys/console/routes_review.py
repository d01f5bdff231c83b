"""The review queue: flagged tracks waiting for a curator, each with what a decision needs.

Every entry shows the track (title, artists, label, partner, the delivery's AI declaration),
every flag on it (source, score, date, and the note of a flag staff added), how many listener
reports it has and why it waits. A decision goes through the same rules as the API's
(``record_review``: a clear of a high detector score needs a second curator) and takes effect
at the next read: the live engine recomputes what is withheld before the page comes back.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pool.errors import ReviewRefusedError
from pool.fields import FieldError, check_text
from pool.model import AiReview
from pool.state import load_flags, record_review, review_queue
from recsys.api.trail import synced_after_commit
from recsys.console.web import (
    CURATOR,
    ConsoleRefusalError,
    Posted,
    SignedIn,
    Staff,
    field,
    redirect,
    render,
    require,
)
from recsys.curation.pool_names import PoolNames, pool_held_tracks, pool_label_names, unknown_track

router = APIRouter(include_in_schema=False)
DECISIONS = frozenset({"exclude", "clear"})
WAITING = {
    "second_approval": "a curator cleared it; a second curator must agree (excluded meanwhile)",
    "review": "the detector's score is in the review band (withheld until a curator decides)",
    "review_of_listener_reports": "listeners reported it (still served until a curator decides)",
}


def _flag_notes(conn: sqlite3.Connection, tracks: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The notes of flags staff added (kept in the audit trail with who and why)."""
    notes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for subject, actor, at, why in conn.execute(
        "SELECT subject, actor, at, why FROM audit_log"
        " WHERE action = 'flags.add' AND result = 'ok' ORDER BY id"
    ):
        if subject in tracks:
            notes[subject].append({"by": actor, "at": at, "why": why})
    return notes


def _queue(staff: Staff) -> list[dict[str, Any]]:
    found = staff.services
    conn = found.conn()
    catalog = found.live.current().context.catalog
    state_dir, version = found.settings.state_dir, catalog.pool_version
    held = pool_held_tracks(state_dir, version)
    names = PoolNames(
        artist_names=catalog.artist_names,
        tracks=catalog.tracks,
        label_names=pool_label_names(state_dir, version),
        held=held,
    )
    queue = review_queue(conn, found.settings.ai)
    waiting = {entry["track_id"] for entry in queue}
    flags: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for flag in load_flags(conn):
        if flag.track_id in waiting:
            flags[flag.track_id].append(
                {"source": flag.source, "score": flag.score, "at": flag.created_at}
            )
    notes = _flag_notes(conn, waiting)
    entries = []
    for entry in queue:
        track_id = entry["track_id"]
        track = catalog.tracks.get(track_id)
        declaration = track.ai_declaration if track is not None else None
        if declaration is None:
            declaration = held.get(track_id, {}).get("declaration")
        own = sorted(flags[track_id], key=lambda f: f["at"])
        entries.append(
            {
                **names.queue_entry(entry),
                "awaiting_second_approval": entry.get("awaiting_second_approval"),
                "declaration": declaration,
                "flags": own,
                "notes": notes.get(track_id, []),
                "listener_reports": sum(1 for f in own if f["source"] == "listener"),
                "why": WAITING[entry["waiting_for"]],
            }
        )
    return entries


@router.get("/console/review", name="console.review")
async def review_page(
    staff: SignedIn, done: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    require(staff, CURATOR, "The review queue")
    entries = await run_in_threadpool(_queue, staff)
    second = [e for e in entries if e["waiting_for"] == "second_approval"]
    rest = [e for e in entries if e["waiting_for"] != "second_approval"]
    return render("review.html", staff=staff, second=second, rest=rest, done=done)


def _decide(request: Request, staff: Staff, track_id: str, decision: str, note: str) -> str:
    found = staff.services
    pool_tracks = found.live.current().context.catalog.tracks
    refused = unknown_track(found.conn(), found.settings.state_dir, track_id, pool_tracks)
    if refused is not None:
        raise ConsoleRefusalError(404, "Unknown track", refused)
    review = AiReview(track_id, decision, staff.name, found.now(), note)  # type: ignore[arg-type]
    try:
        status = record_review(found.conn(), review, role=staff.role, rules=found.settings.ai)
    except ReviewRefusedError as error:
        raise ConsoleRefusalError(409, "Decision refused", str(error)) from None
    synced_after_commit(request, found.live.refresh_exclusions)
    return status


@router.post("/console/review/{track_id}", name="console.review_decide")
async def decide(request: Request, staff: SignedIn, form: Posted, track_id: str) -> Response:
    require(staff, CURATOR, "Deciding reviews")
    decision = field(form, "decision")
    if decision not in DECISIONS:
        raise ConsoleRefusalError(422, "Decision refused", "decision must be exclude or clear")
    try:
        note = check_text(field(form, "note"), "note")
    except FieldError:
        raise ConsoleRefusalError(
            422, "Decision refused", "a decision needs a note saying why (for the audit trail)"
        ) from None
    status = await run_in_threadpool(_decide, request, staff, track_id, decision, note)
    return redirect(f"/console/review?done={track_id}:{decision}:{status}")
