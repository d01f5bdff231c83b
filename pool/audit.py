"""The audit trail: one append-only record per staff change (who, when, what, why, result).

SQLite triggers refuse UPDATE and DELETE on the table, so not even a bug in our own code can
rewrite history. A third refuses an INSERT that names an existing id: ``INSERT OR REPLACE``
and ``REPLACE INTO`` delete the old row to make room without firing DELETE triggers (SQLite
fires them only with ``recursive_triggers`` on), which would rewrite a record silently. The
schema runs at every opening of the state, so a dropped trigger is back at the next command.
What the triggers cannot stop is someone with write access to the file itself: that is the
file system's to guard (and backups').
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
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


def read_audit(conn: sqlite3.Connection, since: datetime | None = None) -> list[AuditEntry]:
    query = "SELECT at, actor, role, action, subject, before, after, why, result FROM audit_log"
    params: tuple[str, ...] = ()
    if since is not None:
        query += " WHERE at >= ?"
        params = (since.isoformat(),)
    rows = conn.execute(query + " ORDER BY id", params).fetchall()
    return [
        AuditEntry(
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
        for at, actor, role, action, subject, before, after, why, result in rows
    ]
