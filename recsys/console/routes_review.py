"""The review queue: flagged tracks waiting for a curator, each with what a decision needs.

Every entry shows the track (title, artists, label, partner, the delivery's AI declaration),
every flag on it (source, score, date, and the note of a flag staff added), how many listener
reports it has and why it waits. A decision goes through the same rules as the API's
(``record_review``: a clear of a high detector score needs a second curator) and takes effect
at the next read: the live engine recomputes what is withheld before the page comes back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pool.errors import ReviewRefusedError
from pool.fields import FieldError, check_text
from pool.model import AiFlag, AiReview
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
PAGE = 50  # entries per page: a large queue would be a page of megabytes
WAITING = {
    "second_approval": "a curator cleared it; a second curator must agree (excluded meanwhile)",
    "review": "the detector's score is in the review band (withheld until a curator decides)",
    "review_of_listener_reports": "listeners reported it (still served until a curator decides)",
}


def _flag_notes(conn: sqlite3.Connection, tracks: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The notes of flags staff added to ``tracks`` (the audit trail keeps who and why)."""
    notes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not tracks:
        return notes
    marks = ", ".join("?" * len(tracks))
    for subject, actor, at, why in conn.execute(
        "SELECT subject, actor, at, why FROM audit_log WHERE action = 'flags.add'"
        f" AND result = 'ok' AND subject IN ({marks}) ORDER BY id",
        sorted(tracks),
    ):
        notes[subject].append({"by": actor, "at": at, "why": why})
    return notes


@dataclass(frozen=True, slots=True)
class _Judged:
    """The queue as the rules judge it now, and every flag by track: the same until a flag,
    review or review request is added (all of them rows with growing ids, and audited)."""

    mark: tuple[int, ...]
    queue: tuple[dict[str, Any], ...]
    flags: dict[str, list[AiFlag]]


_JUDGED: list[_Judged] = []  # the last one, per process
_JUDGED_LOCK = threading.Lock()


def _state_mark(conn: sqlite3.Connection) -> tuple[int, ...]:
    """What changes whenever the queue may: counts and newest row ids of the tables it is
    judged from, and the newest audit record (reviews and requests are audited)."""
    row = conn.execute(
        "SELECT (SELECT COUNT(*) FROM ai_flags), (SELECT COALESCE(MAX(rowid), 0) FROM ai_flags),"
        " (SELECT COUNT(*) FROM ai_reviews), (SELECT COUNT(*) FROM ai_review_requests),"
        " (SELECT COALESCE(MAX(id), 0) FROM audit_log)"
    ).fetchone()
    return tuple(int(value) for value in row)


def _judged(conn: sqlite3.Connection, rules: Any) -> _Judged:
    mark = _state_mark(conn)
    with _JUDGED_LOCK:
        if _JUDGED and _JUDGED[0].mark == mark:
            return _JUDGED[0]
    flags = load_flags(conn)
    queue = review_queue(conn, rules, flags)
    # Tracks waiting for a second curator first, then the rest by score.
    queue.sort(key=lambda entry: entry["waiting_for"] != "second_approval")
    waiting = {entry["track_id"] for entry in queue}
    by_track: dict[str, list[AiFlag]] = defaultdict(list)
    for flag in flags:
        if flag.track_id in waiting:
            by_track[flag.track_id].append(flag)
    judged = _Judged(mark, tuple(queue), dict(by_track))
    with _JUDGED_LOCK:
        _JUDGED[:] = [judged]
    return judged


def _queue(staff: Staff, page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the queue's entries, with everything a decision needs, and its length."""
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
    judged = _judged(conn, found.settings.ai)
    total = len(judged.queue)
    queue = judged.queue[page * PAGE : (page + 1) * PAGE]
    waiting = {entry["track_id"] for entry in queue}
    flags = {
        track: [{"source": f.source, "score": f.score, "at": f.created_at} for f in found]
        for track, found in judged.flags.items()
        if track in waiting
    }
    notes = _flag_notes(conn, waiting)
    entries = []
    for entry in queue:
        track_id = entry["track_id"]
        track = catalog.tracks.get(track_id)
        declaration = track.ai_declaration if track is not None else None
        if declaration is None:
            declaration = held.get(track_id, {}).get("declaration")
        own = sorted(flags.get(track_id, []), key=lambda f: f["at"])
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
    return entries, total


@router.get("/console/review", name="console.review")
async def review_page(
    staff: SignedIn,
    done: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    require(staff, CURATOR, "The review queue")
    entries, total = await run_in_threadpool(_queue, staff, page)
    second = [e for e in entries if e["waiting_for"] == "second_approval"]
    rest = [e for e in entries if e["waiting_for"] != "second_approval"]
    pages = max(1, -(-total // PAGE))
    return render(
        "review.html",
        staff=staff,
        second=second,
        rest=rest,
        done=done,
        page=page,
        pages=pages,
        total=total,
    )


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
    return redirect(f"/console/review?done={quote(f'{track_id}:{decision}:{status}')}")
