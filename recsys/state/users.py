"""Per-user state: opt-outs, "don't play this" exclusions and follows, in the SQLite state.

The data directory's files seed these tables; the app then changes exclusions through the
API. A removed exclusion is kept as an inactive row, so re-importing an old export does not
bring it back (the same rule as for curator links).

Every write here is keyed by a user, and none may bring an erased user back: a write for an
erased user raises ``UserErasedError`` (an import skips their rows), so their raw id is never
stored again and no later rebuild generates for them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime

from recsys.domain.exclusions import UserExclusions
from recsys.state.privacy import current_tombstones, refuse_if_erased
from recsys.state.user_feeds import UserExclusion

USER_SCHEMA = """
CREATE TABLE IF NOT EXISTS user_optouts (
    user_id TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_exclusions (
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('artist', 'track')),
    target_id TEXT NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    changed_at TEXT NOT NULL,
    PRIMARY KEY (user_id, kind, target_id)
);
CREATE TABLE IF NOT EXISTS user_follows (
    user_id TEXT NOT NULL,
    artist_id TEXT NOT NULL,
    PRIMARY KEY (user_id, artist_id)
);
"""


def import_user_feeds(
    conn: sqlite3.Connection,
    optouts: Iterable[str],
    exclusions: Iterable[UserExclusion],
    follows: Mapping[str, frozenset[str]],
    now: datetime,
) -> None:
    """Seed opt-outs and exclusions (never undoing a later change), replace follows
    (the app's current export is the truth for follows), leaving out erased users (an old
    export must not bring them back). Inside the caller's transaction."""
    stamp = now.isoformat()
    erased = current_tombstones(conn)
    optouts = [u for u in optouts if not erased.erased(u)]
    exclusions = [e for e in exclusions if not erased.erased(e.user_id)]
    follows = {u: a for u, a in follows.items() if not erased.erased(u)}
    conn.executemany(
        "INSERT OR IGNORE INTO user_optouts VALUES (?, ?)", ((u, stamp) for u in optouts)
    )
    conn.executemany(
        "INSERT OR IGNORE INTO user_exclusions VALUES (?, ?, ?, 1, ?)",
        ((e.user_id, e.kind, e.target_id, stamp) for e in exclusions),
    )
    conn.execute("DELETE FROM user_follows")
    conn.executemany(
        "INSERT OR IGNORE INTO user_follows VALUES (?, ?)",
        ((u, a) for u, artists in follows.items() for a in artists),
    )


def load_optouts(conn: sqlite3.Connection) -> frozenset[str]:
    return frozenset(r[0] for r in conn.execute("SELECT user_id FROM user_optouts"))


def load_follows(conn: sqlite3.Connection, user_id: str | None = None) -> dict[str, frozenset[str]]:
    query = "SELECT user_id, artist_id FROM user_follows"
    params: tuple[str, ...] = ()
    if user_id is not None:
        query, params = query + " WHERE user_id = ?", (user_id,)
    follows: dict[str, set[str]] = {}
    for user, artist in conn.execute(query, params):
        follows.setdefault(user, set()).add(artist)
    return {u: frozenset(a) for u, a in follows.items()}


def load_exclusions(
    conn: sqlite3.Connection, user_id: str | None = None
) -> dict[str, UserExclusions]:
    query = "SELECT user_id, kind, target_id FROM user_exclusions WHERE active = 1"
    params: tuple[str, ...] = ()
    if user_id is not None:
        query, params = query + " AND user_id = ?", (user_id,)
    artists: dict[str, set[str]] = {}
    tracks: dict[str, set[str]] = {}
    for user, kind, target in conn.execute(query, params):
        (artists if kind == "artist" else tracks).setdefault(user, set()).add(target)
    return {
        u: UserExclusions(frozenset(artists.get(u, ())), frozenset(tracks.get(u, ())))
        for u in set(artists) | set(tracks)
    }


def set_exclusion(
    conn: sqlite3.Connection, exclusion: UserExclusion, *, active: bool, now: datetime
) -> bool:
    """Add or lift one exclusion (inside the caller's transaction); True if it changed.
    Raises ``UserErasedError`` for an erased user (nothing is stored)."""
    refuse_if_erased(conn, [exclusion.user_id])
    row = conn.execute(
        "SELECT active FROM user_exclusions WHERE user_id = ? AND kind = ? AND target_id = ?",
        (exclusion.user_id, exclusion.kind, exclusion.target_id),
    ).fetchone()
    if row is not None and bool(row[0]) == active:
        return False
    if row is None and not active:
        return False
    conn.execute(
        "INSERT OR REPLACE INTO user_exclusions VALUES (?, ?, ?, ?, ?)",
        (exclusion.user_id, exclusion.kind, exclusion.target_id, int(active), now.isoformat()),
    )
    return True
