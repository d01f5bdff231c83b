"""The embedded SQLite state of the pool: trust registry, flags, reviews, takedowns, pool pointer.

This is the system of record for everything staff decide. Every change runs in one
transaction together with its audit record, so a change without a trail (or a trail without
the change) cannot exist, and a failed import leaves the state as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pool.ai_status import AiRules, judge_ai_flags
from pool.audit import AUDIT_SCHEMA, AuditEntry, append_audit
from pool.errors import ReviewRefusedError, StateError
from pool.gate import RevokedTrust, ServingExclusions, TrustRegistry, revoked_tracks
from pool.model import AiFlag, AiReview, Takedown, Track, TrustKind

STATE_FILE = "state.sqlite3"

POOL_SCHEMA = """
CREATE TABLE IF NOT EXISTS trust_registry (
    kind TEXT NOT NULL CHECK (kind IN ('partner', 'label', 'artist')),
    subject_id TEXT NOT NULL,
    trusted INTEGER NOT NULL CHECK (trusted IN (0, 1)),
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    why TEXT NOT NULL,
    PRIMARY KEY (kind, subject_id)
);
CREATE TABLE IF NOT EXISTS ai_flags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    track_id TEXT NOT NULL,
    source TEXT NOT NULL,
    score REAL NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (track_id, source, score, created_at)
);
CREATE TABLE IF NOT EXISTS ai_reviews (
    track_id TEXT PRIMARY KEY,
    decision TEXT NOT NULL CHECK (decision IN ('exclude', 'clear')),
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ai_review_requests (
    track_id TEXT PRIMARY KEY,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS takedowns (
    track_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pool_versions (
    version TEXT PRIMARY KEY,
    built_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pointers (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
"""


def open_state(state_dir: Path) -> sqlite3.Connection:
    """Open (and create if needed) the state database in ``state_dir``."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(state_dir / STATE_FILE, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows are zeroed in the file, not left in free pages: an erased user must be
        # gone from the disk, whatever SQLite build this is (only some default to it).
        conn.execute("PRAGMA secure_delete=ON")
        conn.executescript(AUDIT_SCHEMA + POOL_SCHEMA)
    except (OSError, sqlite3.Error) as error:
        raise StateError(f"cannot open the state in {state_dir}: {error}") from error
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: everything inside lands together or not at all."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def trust_row(conn: sqlite3.Connection, kind: TrustKind, subject_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT trusted, changed_by, changed_at, why FROM trust_registry"
        " WHERE kind = ? AND subject_id = ?",
        (kind, subject_id),
    ).fetchone()
    if row is None:
        return None
    return {"trusted": bool(row[0]), "by": row[1], "at": row[2], "why": row[3]}


def set_trust(
    conn: sqlite3.Connection,
    kind: TrustKind,
    subject_id: str,
    *,
    trusted: bool,
    by: str,
    why: str,
    now: datetime,
    role: str = "trust",
) -> dict[str, Any] | None:
    """Grant or revoke trust, with its audit record, in one transaction; returns the old row."""
    with transaction(conn):
        before = trust_row(conn, kind, subject_id)
        conn.execute(
            "INSERT INTO trust_registry VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, subject_id) DO UPDATE SET trusted = excluded.trusted,"
            " changed_by = excluded.changed_by, changed_at = excluded.changed_at,"
            " why = excluded.why",
            (kind, subject_id, int(trusted), by, now.isoformat(), why),
        )
        after = {"trusted": trusted, "by": by, "at": now.isoformat(), "why": why}
        action = f"trust.{'grant' if trusted else 'revoke'}_{kind}"
        append_audit(conn, AuditEntry(now, by, role, action, subject_id, before, after, why))
    return before


def load_registry(conn: sqlite3.Connection) -> TrustRegistry:
    sets: dict[str, set[str]] = {"partner": set(), "label": set(), "artist": set()}
    for kind, subject_id in conn.execute(
        "SELECT kind, subject_id FROM trust_registry WHERE trusted = 1"
    ):
        sets[kind].add(subject_id)
    return TrustRegistry(
        trusted_partners=frozenset(sets["partner"]),
        trusted_labels=frozenset(sets["label"]),
        verified_artists=frozenset(sets["artist"]),
    )


def search_trust(
    conn: sqlite3.Connection, kind: TrustKind | None, needle: str, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` registry rows (by kind and id) of ``kind`` (all kinds: None) whose
    id holds ``needle`` (case-insensitive), and how many there are in all: a page of a
    registry that may hold every artist of a large catalogue."""
    where, params = ["instr(lower(subject_id), ?) > 0"], [needle.casefold()]
    if kind is not None:
        where.append("kind = ?")
        params.append(kind)
    clause = " WHERE " + " AND ".join(where)
    (total,) = conn.execute(f"SELECT COUNT(*) FROM trust_registry{clause}", params).fetchone()
    rows = conn.execute(
        "SELECT kind, subject_id, trusted, changed_by, changed_at, why FROM trust_registry"
        f"{clause} ORDER BY kind, subject_id LIMIT ?",
        (*params, limit),
    )
    found = [
        {"kind": k, "id": s, "trusted": bool(t), "by": b, "at": a, "why": w}
        for k, s, t, b, a, w in rows
    ]
    return found, int(total)


def list_trust(conn: sqlite3.Connection, kind: TrustKind | None = None) -> list[dict[str, Any]]:
    query = "SELECT kind, subject_id, trusted, changed_by, changed_at, why FROM trust_registry"
    params: tuple[str, ...] = ()
    if kind is not None:
        query += " WHERE kind = ?"
        params = (kind,)
    return [
        {"kind": k, "id": s, "trusted": bool(t), "by": b, "at": a, "why": w}
        for k, s, t, b, a, w in conn.execute(query + " ORDER BY kind, subject_id", params)
    ]


def import_flags(conn: sqlite3.Connection, flags: Iterable[AiFlag]) -> int:
    """Store feed flags; the same flag imported twice is stored once."""
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO ai_flags (track_id, source, score, created_at) VALUES (?, ?, ?, ?)",
        ((f.track_id, f.source, f.score, f.created_at.isoformat()) for f in flags),
    )
    return conn.total_changes - before


def add_flag(conn: sqlite3.Connection, flag: AiFlag, *, by: str, why: str, role: str) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO ai_flags (track_id, source, score, created_at)"
            " VALUES (?, ?, ?, ?)",
            (flag.track_id, flag.source, flag.score, flag.created_at.isoformat()),
        )
        after = {"source": flag.source, "score": flag.score}
        append_audit(
            conn,
            AuditEntry(flag.created_at, by, role, "flags.add", flag.track_id, None, after, why),
        )


ReviewOutcome = Literal["recorded", "awaiting_second_approval"]


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """A curator's clear of a track the detector scored at or above the exclusion threshold,
    waiting for a second curator (four eyes): until then the track stays excluded."""

    track_id: str
    requested_by: str
    requested_at: datetime
    note: str

    def as_dict(self) -> dict[str, str]:
        return {
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "note": self.note,
        }


def _review_request(conn: sqlite3.Connection, track_id: str) -> ReviewRequest | None:
    row = conn.execute(
        "SELECT requested_by, requested_at, note FROM ai_review_requests WHERE track_id = ?",
        (track_id,),
    ).fetchone()
    if row is None:
        return None
    return ReviewRequest(track_id, row[0], datetime.fromisoformat(row[1]), row[2])


def load_review_requests(conn: sqlite3.Connection) -> dict[str, ReviewRequest]:
    return {
        track_id: ReviewRequest(track_id, by, datetime.fromisoformat(at), note)
        for track_id, by, at, note in conn.execute(
            "SELECT track_id, requested_by, requested_at, note FROM ai_review_requests"
        )
    }


def _top_score(conn: sqlite3.Connection, track_id: str, source: str) -> float | None:
    row = conn.execute(
        "SELECT MAX(score) FROM ai_flags WHERE track_id = ? AND source = ?", (track_id, source)
    ).fetchone()
    return None if row[0] is None else float(row[0])


def record_review(
    conn: sqlite3.Connection,
    review: AiReview,
    *,
    role: str = "curator",
    rules: AiRules | None = None,
) -> ReviewOutcome:
    """Record a curator's decision with its audit record, bounded by two rules.

    * A clear never overrides the rights holder: a track its label flagged stays excluded
      (``ReviewRefusedError``; a declared ``generated`` track never enters the pool at all).
    * Clearing a track the detector scored at or above the exclusion threshold takes two
      curators: the first clear is recorded as a request (audited, the track stays excluded),
      and a clear by another curator approves it; the same curator cannot approve their own.

    An ``exclude`` needs one curator, and withdraws any clear waiting for approval.
    """
    rules = rules or AiRules()
    at = review.decided_at
    with transaction(conn):
        request = _review_request(conn, review.track_id)
        approved_request: ReviewRequest | None = None
        if review.decision == "clear":
            if _top_score(conn, review.track_id, "label") is not None:
                raise ReviewRefusedError(
                    f"track {review.track_id}: its label (the rights holder) flagged it as"
                    " AI-generated; a curator's clear cannot override the rights holder"
                )
            detector = _top_score(conn, review.track_id, "detector")
            if detector is not None and detector >= rules.exclude_threshold:
                if request is None:
                    _request_second_approval(conn, review, role, detector)
                    return "awaiting_second_approval"
                if request.requested_by == review.decided_by:
                    raise ReviewRefusedError(
                        f"track {review.track_id}: {review.decided_by} already asked to clear it"
                        f" (detector score {detector:.3f} >= {rules.exclude_threshold}); a"
                        " second curator must approve"
                    )
                approved_request = request
        if request is not None:
            conn.execute("DELETE FROM ai_review_requests WHERE track_id = ?", (review.track_id,))
        old = conn.execute(
            "SELECT decision, decided_by, decided_at FROM ai_reviews WHERE track_id = ?",
            (review.track_id,),
        ).fetchone()
        conn.execute(
            "INSERT OR REPLACE INTO ai_reviews VALUES (?, ?, ?, ?, ?)",
            (review.track_id, review.decision, review.decided_by, at.isoformat(), review.note),
        )
        before: dict[str, Any] | None = None
        if old is not None:
            before = {"decision": old[0], "by": old[1], "at": old[2]}
        if request is not None:
            before = (before or {}) | {"awaiting_second_approval": request.as_dict()}
        after: dict[str, Any] = {"decision": review.decision}
        if approved_request is not None:
            after |= {
                "requested_by": approved_request.requested_by,
                "approved_by": review.decided_by,
            }
        append_audit(
            conn,
            AuditEntry(
                at,
                review.decided_by,
                role,
                "flags.review",
                review.track_id,
                before,
                after,
                review.note,
            ),
        )
    return "recorded"


def _request_second_approval(
    conn: sqlite3.Connection, review: AiReview, role: str, score: float
) -> None:
    conn.execute(
        "INSERT INTO ai_review_requests VALUES (?, ?, ?, ?)",
        (review.track_id, review.decided_by, review.decided_at.isoformat(), review.note),
    )
    after = {
        "decision": "clear",
        "detector_score": score,
        "awaiting": "a second curator's approval",
    }
    append_audit(
        conn,
        AuditEntry(
            review.decided_at,
            review.decided_by,
            role,
            "flags.review_requested",
            review.track_id,
            None,
            after,
            review.note,
        ),
    )


def load_flags(conn: sqlite3.Connection) -> list[AiFlag]:
    return [
        AiFlag(track_id, source, score, datetime.fromisoformat(created_at))
        for track_id, source, score, created_at in conn.execute(
            "SELECT track_id, source, score, created_at FROM ai_flags"
        )
    ]


def track_has_ai_record(conn: sqlite3.Connection, track_id: str) -> bool:
    """Whether a flag, a curator's review or a review request names ``track_id``: staff may
    act on such a track even when no catalogue delivery holds it yet."""
    return any(
        conn.execute(f"SELECT 1 FROM {table} WHERE track_id = ? LIMIT 1", (track_id,)).fetchone()
        for table in ("ai_flags", "ai_reviews", "ai_review_requests")
    )


def load_reviews(conn: sqlite3.Connection) -> dict[str, AiReview]:
    return {
        track_id: AiReview(track_id, decision, by, datetime.fromisoformat(at), note)
        for track_id, decision, by, at, note in conn.execute(
            "SELECT track_id, decision, decided_by, decided_at, note FROM ai_reviews"
        )
    }


def import_takedowns(conn: sqlite3.Connection, takedowns: Iterable[Takedown]) -> int:
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO takedowns VALUES (?, ?, ?)",
        ((t.track_id, t.reason, t.created_at.isoformat()) for t in takedowns),
    )
    return conn.total_changes - before


def load_takedowns(conn: sqlite3.Connection) -> frozenset[str]:
    return frozenset(row[0] for row in conn.execute("SELECT track_id FROM takedowns"))


def load_revoked_trust(conn: sqlite3.Connection) -> RevokedTrust:
    """Every subject staff revoked (and have not granted again)."""
    sets: dict[str, set[str]] = {"partner": set(), "label": set(), "artist": set()}
    for kind, subject_id in conn.execute(
        "SELECT kind, subject_id FROM trust_registry WHERE trusted = 0"
    ):
        sets[kind].add(subject_id)
    return RevokedTrust(
        frozenset(sets["partner"]), frozenset(sets["label"]), frozenset(sets["artist"])
    )


def load_serving_exclusions(
    conn: sqlite3.Connection,
    rules: AiRules,
    pool_version: str | None = None,
    pool_tracks: Mapping[str, Track] | None = None,
) -> ServingExclusions:
    """The current AI verdicts and takedowns, and (given the pool being served) the pool's
    tracks whose partner, label or main artist lost its trust since the pool was built, as
    the gate and the final filter need them: a revocation counts at the next read."""
    verdicts = judge_ai_flags(load_flags(conn), load_reviews(conn), rules)
    revoked = load_revoked_trust(conn)
    tracks: dict[str, str] = {}
    if pool_version is not None and pool_tracks is not None:
        tracks = revoked_tracks(pool_version, pool_tracks, revoked)
    return ServingExclusions(
        ai=verdicts,
        taken_down=load_takedowns(conn),
        revoked=tracks,
        unverified_artists=revoked.artists,
    )


def review_queue(
    conn: sqlite3.Connection, rules: AiRules, flags: list[AiFlag] | None = None
) -> list[dict[str, Any]]:
    """Tracks waiting for a curator, highest score first: withheld by the detector's review
    band, only reported by listeners, or cleared once and waiting for a second curator.
    ``flags``: every flag, when the caller has loaded them already."""
    flags = load_flags(conn) if flags is None else flags
    verdicts = judge_ai_flags(flags, load_reviews(conn), rules)
    requests = load_review_requests(conn)
    waiting = verdicts.review_queue | requests.keys()
    scores: dict[str, float] = {}
    for flag in flags:
        if flag.track_id in waiting:
            scores[flag.track_id] = max(scores.get(flag.track_id, 0.0), flag.score)
    queue = []
    for track_id, score in sorted(scores.items(), key=lambda item: (-item[1], item[0])):
        entry: dict[str, Any] = {"track_id": track_id, "max_score": score}
        request = requests.get(track_id)
        if request is not None:
            entry["waiting_for"] = "second_approval"
            entry["awaiting_second_approval"] = request.as_dict()
        elif track_id in verdicts.pending_review:
            entry["waiting_for"] = "review"
        else:
            entry["waiting_for"] = "review_of_listener_reports"
        queue.append(entry)
    return queue


def set_pointer(conn: sqlite3.Connection, name: str, value: str, now: datetime) -> None:
    conn.execute("INSERT OR REPLACE INTO pointers VALUES (?, ?, ?)", (name, value, now.isoformat()))


def get_pointer(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM pointers WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])
