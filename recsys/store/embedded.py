"""The embedded mix store: SQLite in the state folder, no server needed.

Its own database file, so readers and a rebuild never wait on the state's write lock. A new
version is written under its own version key and made current by updating one row in the same
transaction that checks its user count.

A damaged file (a scribbled page, a file that is not a database at all) surfaces at whichever
query first reads the bad page, often long after the file was opened: every query here turns
SQLite's "database disk image is malformed" into ``CorruptFileError`` naming this file and
what to do, so the CLI prints one line and the API answers 503 instead of a traceback.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from recsys.errors import CorruptFileError
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


# Transactions on one connection, one at a time: the API's threads share it.
_TRANSACTIONS = threading.Lock()


def is_damaged_database(error: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is damaged (SQLITE_CORRUPT, SQLITE_NOTADB), as
    opposed to busy or locked (``OperationalError``: wait and retry) or a constraint broken
    by the code (``IntegrityError``: a bug, not the file)."""
    name = getattr(error, "sqlite_errorname", "")
    if name:
        return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"
    return type(error) is sqlite3.DatabaseError


def damaged_store_error(path: Path, error: sqlite3.Error) -> CorruptFileError:
    """The one line an operator needs: which file, what SQLite said, what to do. The mix store
    is a cache a rebuild refills, so deleting it loses nothing that a rebuild cannot make."""
    return CorruptFileError(
        f"the mix store file {path} is damaged ({error}): delete it and run"
        " `recsys rebuild --data DIR`"
    )


@contextmanager
def _named_damage(path: Path) -> Iterator[None]:
    """Raise ``CorruptFileError`` naming ``path`` when SQLite finds the file damaged."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        if is_damaged_database(error):
            raise damaged_store_error(path, error) from error
        raise


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One transaction around the block. The connection is in autocommit mode (its own
    ``BEGIN``s elsewhere), where ``with conn:`` is no transaction at all: each statement would
    commit alone, a reader could meet the excluded set half replaced, and a chunk of payloads
    would cost one commit per user."""
    with _TRANSACTIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class EmbeddedVersionWriter:
    def __init__(self, store: EmbeddedStore, version: str) -> None:
        self._store = store
        self._version = version

    def for_worker(self) -> EmbeddedVersionWriter:
        store = EmbeddedStore(self._store.state_dir)
        # A rebuild's workers only append; the WAL is checkpointed once, when the version is
        # committed, rather than every few megabytes while they write.
        store.conn.execute("PRAGMA wal_autocheckpoint=0")
        return EmbeddedVersionWriter(store, self._version)

    def put_many(self, users: Iterable[tuple[str, bytes]]) -> None:
        conn = self._store.conn
        with self._store.named_damage(), _transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO user_payloads VALUES (?, ?, ?)",
                ((self._version, user_id, payload) for user_id, payload in users),
            )

    def commit(self, expected_users: int) -> None:
        conn = self._store.conn
        with self._store.named_damage():
            with _transaction(conn):
                (count,) = conn.execute(
                    "SELECT COUNT(*) FROM user_payloads WHERE version = ?", (self._version,)
                ).fetchone()
                if count != expected_users:
                    raise StoreIntegrityError(
                        f"version {self._version} holds {count} users, expected"
                        f" {expected_users}; the previous version stays current"
                    )
                conn.execute(
                    "INSERT OR REPLACE INTO store_pointer VALUES ('current', ?)", (self._version,)
                )
                conn.execute("DELETE FROM user_payloads WHERE version != ?", (self._version,))
            # The workers' writes, kept in the WAL, go into the database file now; the WAL is
            # emptied (a reader still in it only makes this stop early: harmless).
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def abort(self) -> None:
        conn = self._store.conn
        with self._store.named_damage(), _transaction(conn):
            conn.execute(
                "DELETE FROM user_payloads WHERE version = ? AND version != "
                "COALESCE((SELECT value FROM store_pointer WHERE name = 'current'), '')",
                (self._version,),
            )


class EmbeddedStore:
    name = "embedded"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / STORE_FILE
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            # A user's payload is a few kilobytes: on 16 KiB pages a rebuild writes a few
            # users per page, half the work of one per 4 KiB page (it holds for a new file).
            self.conn.execute("PRAGMA page_size=16384")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            # Deleted users' mixes are zeroed in the file, not left in free pages (erasure).
            self.conn.execute("PRAGMA secure_delete=ON")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            if is_damaged_database(error):
                raise damaged_store_error(self.path, error) from error
            raise StoreUnavailableError(f"embedded store {self.path}: {error}") from error
        except (OSError, sqlite3.Error) as error:
            raise StoreUnavailableError(f"embedded store {self.path}: {error}") from error

    def named_damage(self) -> AbstractContextManager[None]:
        """Around a query: SQLite's "database disk image is malformed" (met at whichever
        query first reads a damaged page) becomes ``CorruptFileError`` naming this file."""
        return _named_damage(self.path)

    def begin(self, version: str) -> EmbeddedVersionWriter:
        return EmbeddedVersionWriter(self, version)

    def current_version(self) -> str | None:
        with self.named_damage():
            row = self.conn.execute(
                "SELECT value FROM store_pointer WHERE name = 'current'"
            ).fetchone()
        return None if row is None else str(row[0])

    def read_user(self, user_id: str) -> bytes | None:
        with self.named_damage():
            row = self.conn.execute(
                "SELECT payload FROM user_payloads WHERE user_id = ? AND version = "
                "(SELECT value FROM store_pointer WHERE name = 'current')",
                (user_id,),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def delete_user(self, user_id: str) -> None:
        with self.named_damage(), _transaction(self.conn):
            self.conn.execute("DELETE FROM user_payloads WHERE user_id = ?", (user_id,))

    def drop_stale_versions(self) -> list[str]:
        """Delete every version but the current one; return them, sorted.

        A commit deletes older versions and an abort its own, but a rebuild killed with
        SIGKILL (or by the OOM killer) does neither: the chunks its workers committed stay
        in the file, gigabytes at a million users, until a later rebuild commits. This is
        run at the start of a rebuild and by ``recsys store gc``, both under the rebuild
        lock, so no version being written is dropped. With no current version (a first
        rebuild killed), every version is stale. Deleted pages are zeroed (``secure_delete``)
        and reused by the next rebuild; the file does not shrink.
        """
        conn = self.conn
        with self.named_damage():
            with _transaction(conn):
                current = conn.execute(
                    "SELECT value FROM store_pointer WHERE name = 'current'"
                ).fetchone()
                keep = None if current is None else str(current[0])
                stale: list[str] = []
                last = ""
                # One index seek per version, not a scan of every user's row.
                while True:
                    (version,) = conn.execute(
                        "SELECT MIN(version) FROM user_payloads WHERE version > ?", (last,)
                    ).fetchone()
                    if version is None:
                        break
                    last = str(version)
                    if last != keep:
                        stale.append(last)
                conn.executemany(
                    "DELETE FROM user_payloads WHERE version = ?", ((v,) for v in stale)
                )
            if stale:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return stale

    def replace_excluded_tracks(self, track_ids: Iterable[str]) -> None:
        with self.named_damage(), _transaction(self.conn):
            self.conn.execute("DELETE FROM excluded_tracks")
            self.conn.executemany(
                "INSERT OR IGNORE INTO excluded_tracks VALUES (?)", ((t,) for t in track_ids)
            )

    def excluded_among(self, track_ids: list[str]) -> set[str]:
        if not track_ids:
            return set()
        marks = ",".join("?" * len(track_ids))
        with self.named_damage():
            rows = self.conn.execute(
                f"SELECT track_id FROM excluded_tracks WHERE track_id IN ({marks})", track_ids
            ).fetchall()
        return {r[0] for r in rows}

    def ping(self) -> bool:
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        self.conn.close()
