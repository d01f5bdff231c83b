"""A staff import of a data directory's ``trust/`` files into the registry.

Trust enters the registry only through a named staff action (docs/contract.md section 6, invariant
9): ``pool build`` and ``rebuild`` read the registry and never the ``trust/`` files, so appending
ids to those files grants nothing. This import is that action for the initial files of a
partner delivery: the staff member running it (``--by``) and their reason (``--why``) are
recorded on every grant, with one audit record per grant, and the file's own "verified by"
and "at" columns are kept only as a quotation inside the reason (a file may claim anything).

Only ids the registry has never seen are granted: a revocation by staff is never undone by
importing an old file again (re-granting a revoked id is a deliberate, separate edit).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pool.audit import AuditEntry, append_audit
from pool.errors import DataDirectoryError
from pool.feeds import TRUST_FILES, read_csv, trust_parser
from pool.model import FeedIssue, TrustGrant
from pool.state import transaction

STAFF_ROLE = "trust"


@dataclass(frozen=True, slots=True)
class TrustImport:
    """What one staff import granted, skipped (already in the registry) and refused."""

    granted: tuple[TrustGrant, ...]
    already_known: int
    issues: tuple[FeedIssue, ...]

    def summary(self) -> dict[str, object]:
        by_kind: dict[str, int] = {"partner": 0, "label": 0, "artist": 0}
        for grant in self.granted:
            by_kind[grant.kind] += 1
        return {
            "granted": len(self.granted),
            "granted_by_kind": by_kind,
            "already_in_registry": self.already_known,
            "rows_refused": len(self.issues),
            "first_rows_refused": [str(issue) for issue in self.issues[:20]],
        }


def import_trust_files(
    conn: sqlite3.Connection,
    data_dir: Path,
    *,
    by: str,
    why: str,
    now: datetime,
    role: str = STAFF_ROLE,
) -> TrustImport:
    """Grant every id of ``data_dir/trust/*.csv`` the registry has never seen, in one
    transaction, each grant under ``by`` with its own audit record."""
    if not data_dir.is_dir():
        raise DataDirectoryError(f"{data_dir}: no such data directory")
    present = [(kind, spec) for kind, spec in TRUST_FILES.items() if (data_dir / spec[0]).is_file()]
    if not present:
        files = ", ".join(spec[0] for spec in TRUST_FILES.values())
        raise DataDirectoryError(f"{data_dir}: none of {files} exists; nothing to import")
    issues: list[FeedIssue] = []
    granted: list[TrustGrant] = []
    known = 0
    with transaction(conn):
        for kind, (relative, *columns) in present:
            for item in read_csv(data_dir / relative, relative, tuple(columns), trust_parser(kind)):
                if isinstance(item, FeedIssue):
                    issues.append(item)
                    continue
                line, grant = item
                if _known(conn, grant):
                    known += 1
                    continue
                note = (
                    f"{why} (staff import of {relative} line {line}; the file says"
                    f" {grant.granted_by} at {grant.granted_at.isoformat()})"
                )
                _grant(conn, grant, by=by, role=role, why=note, now=now)
                granted.append(grant)
    return TrustImport(tuple(granted), known, tuple(issues))


def _known(conn: sqlite3.Connection, grant: TrustGrant) -> bool:
    row = conn.execute(
        "SELECT 1 FROM trust_registry WHERE kind = ? AND subject_id = ?",
        (grant.kind, grant.subject_id),
    ).fetchone()
    return row is not None


def _grant(
    conn: sqlite3.Connection, grant: TrustGrant, *, by: str, role: str, why: str, now: datetime
) -> None:
    conn.execute(
        "INSERT INTO trust_registry VALUES (?, ?, 1, ?, ?, ?)",
        (grant.kind, grant.subject_id, by, now.isoformat(), why),
    )
    after = {"trusted": True, "by": by, "at": now.isoformat(), "why": why}
    append_audit(
        conn,
        AuditEntry(now, by, role, f"trust.grant_{grant.kind}", grant.subject_id, None, after, why),
    )
