"""Curator links in the SQLite state, each edit in one transaction with its audit record."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from pool.audit import AuditEntry, append_audit
from pool.state import transaction
from recsys.curation.links import CuratorLink, LinkKind, canonical_pair
from recsys.errors import RecsysError

LINKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS curator_links (
    artist_a TEXT NOT NULL,
    artist_b TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('similar', 'block', 'removed')),
    weight REAL NOT NULL,
    curator TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (artist_a, artist_b)
);
CREATE INDEX IF NOT EXISTS curator_links_b ON curator_links (artist_b);
"""


def _row(conn: sqlite3.Connection, pair: tuple[str, str]) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT kind, weight, curator, note, created_at FROM curator_links"
        " WHERE artist_a = ? AND artist_b = ?",
        pair,
    ).fetchone()
    if row is None:
        return None
    return {"kind": row[0], "weight": row[1], "curator": row[2], "note": row[3], "at": row[4]}


def _upsert(conn: sqlite3.Connection, link: CuratorLink, kind: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO curator_links VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            link.artist_a,
            link.artist_b,
            kind,
            link.weight,
            link.curator,
            link.note,
            link.created_at.isoformat(),
        ),
    )


class LinkChangedError(RecsysError):
    """The pair changed since the editor read it: their edit would overwrite another
    curator's without their knowing. ``current`` is the pair's row now (None: no row)."""

    def __init__(self, current: dict[str, Any] | None) -> None:
        who = "nobody" if current is None else f"{current['curator']} at {current['at']}"
        super().__init__(f"the pair was changed meanwhile (by {who})")
        self.current = current


def row_mark(row: dict[str, Any] | None) -> str:
    """A pair's row in a few characters, for an editor to send back with the edit: any
    later edit of the pair changes it (``put_link``'s and ``remove_link``'s ``if_mark``)."""
    if row is None:
        return "none"
    return f"{row['kind']}|{row['curator']}|{row['at']}"


def _check_mark(before: dict[str, Any] | None, if_mark: str | None) -> None:
    if if_mark is not None and row_mark(before) != if_mark:
        raise LinkChangedError(before)


def link_row(conn: sqlite3.Connection, a: str, b: str) -> dict[str, Any] | None:
    """The state's row of the pair, whichever order it is named in: its kind (``removed``
    for a link that was removed), weight, curator, note and time; None for a pair never
    linked. The console compares it with what a curator saw before saving over it."""
    return _row(conn, canonical_pair(a, b))


def import_links(conn: sqlite3.Connection, links: Iterable[CuratorLink], now: datetime) -> int:
    """Seed from ``curation/links.jsonl``: only pairs the state has never seen (inside the
    caller's transaction), so a curator's later edit or removal always wins over the file."""
    added = 0
    for link in links:
        if _row(conn, link.pair) is None:
            _upsert(conn, link, link.kind)
            added += 1
    if added:
        append_audit(
            conn,
            AuditEntry(
                now,
                "import",
                "system",
                "links.import",
                "curation/links.jsonl",
                None,
                {"links_added": added},
                "initial curator links import",
            ),
        )
    return added


def put_link(
    conn: sqlite3.Connection,
    link: CuratorLink,
    *,
    why: str,
    role: str,
    if_mark: str | None = None,
) -> Any:
    """Add or change a link (similar or block); returns the previous row, if any.

    With ``if_mark`` (``row_mark`` of the row the editor saw), ``LinkChangedError`` and
    nothing written when the pair changed since: checked inside the write transaction."""
    with transaction(conn):
        before = _row(conn, link.pair)
        _check_mark(before, if_mark)
        _upsert(conn, link, link.kind)
        append_audit(
            conn,
            AuditEntry(
                link.created_at,
                link.curator,
                role,
                f"links.{link.kind}",
                f"{link.artist_a}|{link.artist_b}",
                before,
                {"kind": link.kind, "weight": link.weight},
                why,
            ),
        )
    return before


def remove_link(
    conn: sqlite3.Connection,
    artist_a: str,
    artist_b: str,
    *,
    by: str,
    why: str,
    role: str,
    now: datetime,
    if_mark: str | None = None,
) -> dict[str, Any] | None:
    """Remove a link, leaving a tombstone; returns the removed row or None if there was none.
    ``if_mark`` as for ``put_link``."""
    pair = canonical_pair(artist_a, artist_b)
    with transaction(conn):
        before = _row(conn, pair)
        _check_mark(before, if_mark)
        if before is None or before["kind"] == "removed":
            return None
        conn.execute(
            "UPDATE curator_links SET kind = 'removed', curator = ?, note = ?, created_at = ?"
            " WHERE artist_a = ? AND artist_b = ?",
            (by, why, now.isoformat(), *pair),
        )
        append_audit(
            conn,
            AuditEntry(now, by, role, "links.remove", f"{pair[0]}|{pair[1]}", before, None, why),
        )
    return before


def load_links(conn: sqlite3.Connection, artist_id: str | None = None) -> list[CuratorLink]:
    """Active links (similar and block), optionally only those touching ``artist_id``."""
    query = (
        "SELECT artist_a, artist_b, kind, weight, curator, note, created_at FROM curator_links"
        " WHERE kind != 'removed'"
    )
    params: tuple[str, ...] = ()
    if artist_id is not None:
        query += " AND (artist_a = ? OR artist_b = ?)"
        params = (artist_id, artist_id)
    return [
        CuratorLink(a, b, cast(LinkKind, kind), weight, curator, note, datetime.fromisoformat(at))
        for a, b, kind, weight, curator, note, at in conn.execute(
            query + " ORDER BY artist_a, artist_b", params
        )
    ]
