"""The audit trail: one append-only record per staff change (who, when, what, why, result).

SQLite triggers refuse UPDATE and DELETE on the table, so not even a bug in our own code can
rewrite history. A third refuses an INSERT that names an existing id: ``INSERT OR REPLACE``
and ``REPLACE INTO`` delete the old row to make room without firing DELETE triggers (SQLite
fires them only with ``recursive_triggers`` on), which would rewrite a record silently. The
schema runs at every opening of the state, so a dropped trigger is back at the next command.
What the triggers cannot stop is someone with write access to the file itself: that is the
file system's to guard (and backups').

Calls refused to a caller without a valid token (the HTTP API's 401s) are the one exception
to "one record per call": whoever can reach the server can make them, as fast as they like,
and a record each (about 1.2 KB) would let anonymous traffic grow the trail without bound.
They are counted instead, one row per minute, action, status and reason in
``anonymous_refusals``, whose rows can only be added or counted up (triggers again): at most
a few rows per endpoint and minute, whatever the traffic. Every call by a known token, the
refused ones included, keeps its own record in ``audit_log``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    before TEXT,
    after TEXT,
    why TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_replace BEFORE INSERT ON audit_log
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS anonymous_refusals (
    minute TEXT NOT NULL,
    action TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (minute, action, status, reason)
);
CREATE TRIGGER IF NOT EXISTS anonymous_refusals_count_up BEFORE UPDATE ON anonymous_refusals
WHEN NEW.count <= OLD.count OR NEW.minute IS NOT OLD.minute OR NEW.action IS NOT OLD.action
    OR NEW.status IS NOT OLD.status OR NEW.reason IS NOT OLD.reason
BEGIN SELECT RAISE(ABORT, 'anonymous refusal counts only grow'); END;
CREATE TRIGGER IF NOT EXISTS anonymous_refusals_no_delete BEFORE DELETE ON anonymous_refusals
BEGIN SELECT RAISE(ABORT, 'anonymous refusal counts only grow'); END;
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    role: str
    action: str
    subject: str
    before: Any
    after: Any
    why: str
    result: str = "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "why": self.why,
            "result": self.result,
        }


def append_audit(conn: sqlite3.Connection, entry: AuditEntry) -> None:
    """Record one entry; the caller's transaction decides whether it lands with the change."""
    conn.execute(
        "INSERT INTO audit_log (at, actor, role, action, subject, before, after, why, result)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.at.isoformat(),
            entry.actor,
            entry.role,
            entry.action,
            entry.subject,
            json.dumps(entry.before, sort_keys=True),
            json.dumps(entry.after, sort_keys=True),
            entry.why,
            entry.result,
        ),
    )


@dataclass(frozen=True, slots=True)
class AnonymousRefusals:
    """How many calls without a valid token one action refused in one minute, and why."""

    minute: datetime  # the start of the minute
    action: str
    status: int
    reason: str  # "no token" or "unknown token"
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "minute": self.minute.isoformat(),
            "action": self.action,
            "status": self.status,
            "reason": self.reason,
            "count": self.count,
        }


def minute_of(moment: datetime) -> datetime:
    """The start of ``moment``'s minute, in UTC when it is aware (the rows' text order is
    then their time order)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(second=0, microsecond=0)


def count_anonymous_refusal(
    conn: sqlite3.Connection, at: datetime, action: str, status: int, reason: str
) -> None:
    """Count one refused call without a valid token in its minute's row (one statement, so
    concurrent callers on their own connections never lose a count)."""
    conn.execute(
        "INSERT INTO anonymous_refusals (minute, action, status, reason, count)"
        " VALUES (?, ?, ?, ?, 1)"
        " ON CONFLICT (minute, action, status, reason) DO UPDATE SET count = count + 1",
        (minute_of(at).isoformat(), action, status, reason),
    )


def read_anonymous_refusals(
    conn: sqlite3.Connection, since: datetime | None = None
) -> list[AnonymousRefusals]:
    """The counted rows, oldest minute first; ``since`` keeps the minutes that end after it
    (the minute holding ``since`` included, as its calls may be at or after it)."""
    query = "SELECT minute, action, status, reason, count FROM anonymous_refusals"
    params: tuple[str, ...] = ()
    if since is not None:
        query += " WHERE minute >= ?"
        params = (minute_of(since).isoformat(),)
    rows = conn.execute(query + " ORDER BY minute, action, status, reason", params)
    return [
        AnonymousRefusals(datetime.fromisoformat(minute), action, int(status), reason, int(n))
        for minute, action, status, reason, n in rows
    ]


def read_audit(conn: sqlite3.Connection, since: datetime | None = None) -> list[AuditEntry]:
    query = f"SELECT {AUDIT_COLUMNS} FROM audit_log"
    params: tuple[str, ...] = ()
    if since is not None:
        query += " WHERE at >= ?"
        params = (since.isoformat(),)
    return [_entry(row) for row in conn.execute(query + " ORDER BY id", params)]


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    at, actor, role, action, subject, before, after, why, result = row
    return AuditEntry(
        at=datetime.fromisoformat(at),
        actor=actor,
        role=role,
        action=action,
        subject=subject,
        before=json.loads(before) if before is not None else None,
        after=json.loads(after) if after is not None else None,
        why=why,
        result=result,
    )


AUDIT_COLUMNS = "at, actor, role, action, subject, before, after, why, result"


def search_audit(
    conn: sqlite3.Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    limit: int = 200,
) -> list[tuple[int, AuditEntry]]:
    """The newest entries (with their ids) by ``actor`` exactly, whose action starts with
    ``action``, and whose subject holds ``subject``: what a person looking into a change
    asks ("everything tina did", "every block", "everything about ar000042")."""
    clauses, params = [], []
    if actor:
        clauses.append("actor = ?")
        params.append(actor)
    if action:
        clauses.append("action LIKE ? ESCAPE '\\'")
        params.append(_like_escaped(action) + "%")
    if subject:
        clauses.append("subject LIKE ? ESCAPE '\\'")
        params.append("%" + _like_escaped(subject) + "%")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(
        f"SELECT id, {AUDIT_COLUMNS} FROM audit_log{where} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [(int(row[0]), _entry(row[1:])) for row in rows]


def audit_entry(conn: sqlite3.Connection, entry_id: int) -> AuditEntry | None:
    row = conn.execute(
        f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE id = ?", (entry_id,)
    ).fetchone()
    return None if row is None else _entry(row)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
