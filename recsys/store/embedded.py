"""The embedded mix store: SQLite in the state folder, no server needed.

Its own database file, so readers and a rebuild never wait on the state's write lock. A new
version is written under its own version key and made current by updating one row in the same
transaction that checks its user count.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from recsys.store.base import StoreIntegrityError, StoreUnavailableError

STORE_FILE = "mixes.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS user_payloads (
    version TEXT NOT NULL,
    user_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (version, user_id)
);
CREATE TABLE IF NOT EXISTS store_pointer (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS excluded_tracks (track_id TEXT PRIMARY KEY);
"""


class EmbeddedVersionWriter:
    def __init__(self, store: EmbeddedStore, version: str) -> None:
        self._store = store
        self._version = version

    def put_many(self, users: Iterable[tuple[str, bytes]]) -> None:
        conn = self._store.conn
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO user_payloads VALUES (?, ?, ?)",
                ((self._version, user_id, payload) for user_id, payload in users),
            )

    def commit(self, expected_users: int) -> None:
        conn = self._store.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM user_payloads WHERE version = ?", (self._version,)
            ).fetchone()
            if count != expected_users:
                raise StoreIntegrityError(
                    f"version {self._version} holds {count} users, expected {expected_users};"
                    " the previous version stays current"
                )
            conn.execute(
                "INSERT OR REPLACE INTO store_pointer VALUES ('current', ?)", (self._version,)
            )
            conn.execute("DELETE FROM user_payloads WHERE version != ?", (self._version,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def abort(self) -> None:
        conn = self._store.conn
        with conn:
            conn.execute(
                "DELETE FROM user_payloads WHERE version = ? AND version != "
                "COALESCE((SELECT value FROM store_pointer WHERE name = 'current'), '')",
                (self._version,),
            )


class EmbeddedStore:
    name = "embedded"

    def __init__(self, state_dir: Path) -> None:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                state_dir / STORE_FILE, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            # Deleted users' mixes are zeroed in the file, not left in free pages (erasure).
            self.conn.execute("PRAGMA secure_delete=ON")
            self.conn.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StoreUnavailableError(f"embedded store in {state_dir}: {error}") from error

    def begin(self, version: str) -> EmbeddedVersionWriter:
        return EmbeddedVersionWriter(self, version)

    def current_version(self) -> str | None:
        row = self.conn.execute("SELECT value FROM store_pointer WHERE name = 'current'").fetchone()
        return None if row is None else str(row[0])

    def read_user(self, user_id: str) -> bytes | None:
        row = self.conn.execute(
            "SELECT payload FROM user_payloads WHERE user_id = ? AND version = "
            "(SELECT value FROM store_pointer WHERE name = 'current')",
            (user_id,),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def delete_user(self, user_id: str) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM user_payloads WHERE user_id = ?", (user_id,))

    def replace_excluded_tracks(self, track_ids: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM excluded_tracks")
            self.conn.executemany(
                "INSERT OR IGNORE INTO excluded_tracks VALUES (?)", ((t,) for t in track_ids)
            )

    def excluded_among(self, track_ids: list[str]) -> set[str]:
        if not track_ids:
            return set()
        marks = ",".join("?" * len(track_ids))
        rows = self.conn.execute(
            f"SELECT track_id FROM excluded_tracks WHERE track_id IN ({marks})", track_ids
        )
        return {r[0] for r in rows}

    def ping(self) -> bool:
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        self.conn.close()
