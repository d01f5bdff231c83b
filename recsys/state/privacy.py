"""Erasure, tombstones and user ids in logs.

Erasing a user removes their rows from the state, their stored mixes from every store
version, and their rows from the current model and listening history; a tombstone (a keyed
hash, not the id) keeps any later rebuild from bringing them back from an old export. Logs
carry the same keyed hash instead of raw ids.

An erasure is final whenever it happens (docs/contract.md section 6, invariant 9): every writer
keyed by a user asks the tombstones first (``state.users`` refuses exclusions and opt-outs of an
erased user, ``Engine.profile`` generates nothing personal for one), and a rebuild or training run
reads them again inside its one switch (``recsys.jobs.publish``), removing from its new model,
history and store version anyone erased while it ran. The switch and an erasure's tombstone
are both write transactions on the state, so one of them is first: either the switch sees the
tombstone, or the erasure, once its tombstone is in, erases from what the switch published.

"Removed" means gone from the files, not only from query results. SQLite keeps deleted rows
readable in free pages unless ``secure_delete`` is on, and in WAL mode the old page stays in
the main database file until a checkpoint copies the new one over it; so erasure zeroes what
it deletes and then checkpoints. The embedded store's file is erased too when the configured
store is Redis: a deployment that moved to Redis keeps the old file in the state folder.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from pool.audit import AuditEntry, append_audit
from pool.state import get_pointer, set_pointer, transaction
from recsys.domain.vocabulary import Vocabulary
from recsys.embeddings.artist_model import load_model, save_model_files
from recsys.errors import UserErasedError
from recsys.listening.history import load_history, save_history
from recsys.store.base import MixStore
from recsys.store.embedded import STORE_FILE, EmbeddedStore

log = logging.getLogger(__name__)

PRIVACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS user_tombstones (
    user_hash TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
);
"""
KEY_POINTER = "user_hash_key"


def user_hash_key(conn: sqlite3.Connection, now: datetime) -> bytes:
    """The state's secret for hashing user ids, made on first use."""
    key = get_pointer(conn, KEY_POINTER)
    if key is None:
        key = secrets.token_hex(32)
        with transaction(conn):
            set_pointer(conn, KEY_POINTER, key, now)
    return bytes.fromhex(key)


def hash_user(key: bytes, user_id: str) -> str:
    """The keyed hash that stands for a user in tombstones, the audit trail and logs: stable
    for one state (so records about one user can be linked), useless without its key."""
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass
class Tombstones:
    """``user_id in tombstones`` hashes the id once and remembers the answer."""

    key: bytes
    hashes: frozenset[str]
    _seen: dict[str, bool] = field(default_factory=dict)

    def __contains__(self, user_id: object) -> bool:
        if not isinstance(user_id, str) or not self.hashes:
            return False
        answer = self._seen.get(user_id)
        if answer is None:
            answer = self._seen[user_id] = hash_user(self.key, user_id) in self.hashes
        return answer

    def erased(self, user_id: str) -> bool:
        """The same question without remembering the answer, for long-lived readers (a
        server would otherwise keep every id it was asked about)."""
        return bool(self.hashes) and hash_user(self.key, user_id) in self.hashes


def load_tombstones(conn: sqlite3.Connection, now: datetime) -> Tombstones:
    hashes = frozenset(r[0] for r in conn.execute("SELECT user_hash FROM user_tombstones"))
    return Tombstones(user_hash_key(conn, now), hashes)


def current_tombstones(conn: sqlite3.Connection) -> Tombstones:
    """The tombstones as they are, inside any transaction (the key is never made here: with
    no key yet, nobody was ever erased)."""
    key = get_pointer(conn, KEY_POINTER)
    if key is None:
        return Tombstones(b"", frozenset())
    hashes = frozenset(r[0] for r in conn.execute("SELECT user_hash FROM user_tombstones"))
    return Tombstones(bytes.fromhex(key), hashes)


def refuse_if_erased(conn: sqlite3.Connection, user_ids: list[str] | tuple[str, ...]) -> None:
    """Raise ``UserErasedError`` when any of ``user_ids`` was erased: a write keyed by an
    erased user would store their raw id again, and a later rebuild would serve it."""
    key = get_pointer(conn, KEY_POINTER)
    if key is None:
        return  # no key yet: nobody was ever erased
    for user_id in user_ids:
        found = conn.execute(  # one indexed look-up, not every tombstone per write
            "SELECT 1 FROM user_tombstones WHERE user_hash = ?",
            (hash_user(bytes.fromhex(key), user_id),),
        ).fetchone()
        if found is not None:
            raise UserErasedError("this user was erased; nothing is stored under their id any more")


def erase_user(
    conn: sqlite3.Connection,
    state_dir: Path,
    store: MixStore | None,
    user_id: str,
    *,
    actor: str,
    role: str,
    now: datetime,
    models_dir: str = "models",
    model_pointer: str = "model",
) -> dict[str, int]:
    """Erase ``user_id`` everywhere; returns what was removed where.

    The local parts go first: the state's rows, tombstone and audit record (naming the user
    by hash) in one transaction, then the model and history files, then an unused embedded
    store file. The configured store comes last, so a Redis that does not answer
    (``StoreUnavailableError``) leaves only its own copy, which a repeated call, or the next
    rebuild, removes. The audit trail itself is never touched: its records name users only
    by their keyed hash, so there is nothing in it to erase.
    """
    key = user_hash_key(conn, now)
    user_hash = hash_user(key, user_id)
    removed: dict[str, int] = {}
    # Per connection; without it deleted rows stay in the file's free pages.
    conn.execute("PRAGMA secure_delete = ON")
    with transaction(conn):
        for table in ("user_optouts", "user_exclusions", "user_follows"):
            removed[table] = conn.execute(
                f"DELETE FROM {table} WHERE user_id = ?",
                (user_id,),
            ).rowcount
        conn.execute(
            "INSERT OR REPLACE INTO user_tombstones VALUES (?, ?)", (user_hash, now.isoformat())
        )
        append_audit(
            conn,
            AuditEntry(
                now,
                actor,
                role,
                "users.erase",
                f"user:{user_hash}",
                None,
                removed,
                "erasure request",
            ),
        )
    try:
        version = get_pointer(conn, model_pointer)
        if version is not None:
            removed |= erase_from_artefacts(
                state_dir / models_dir, version, lambda user: user == user_id
            )
        if store is None or store.name != EmbeddedStore.name:
            _erase_from_embedded_file(state_dir, user_id)
        if store is not None:
            store.delete_user(user_id)
    finally:
        _checkpoint(conn, "the state")
        _checkpoint_file(state_dir / STORE_FILE)
    return removed


def _erase_from_embedded_file(state_dir: Path, user_id: str) -> None:
    """The embedded store's file, when it is not the store in use (an earlier deployment's):
    nothing reads it any more, but it still holds every user's mixes."""
    if not (state_dir / STORE_FILE).is_file():
        return
    store = EmbeddedStore(state_dir)
    try:
        store.delete_user(user_id)
    finally:
        store.close()


def _checkpoint(conn: sqlite3.Connection, what: str) -> None:
    """Copy the WAL into the database file and empty it, so the pages that held the erased
    rows are overwritten in the file now rather than at some later checkpoint."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        # A reader holds an older snapshot; SQLite's next checkpoint finishes the job.
        log.warning("could not checkpoint %s after an erasure; a later checkpoint will", what)


def _checkpoint_file(path: Path) -> None:
    if not path.is_file():
        return
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    try:
        _checkpoint(conn, path.name)
    finally:
        conn.close()


def erase_from_artefacts(
    models: Path, version: str, erased: Callable[[str], bool]
) -> dict[str, int]:
    """Remove every user ``erased`` names from model ``version``'s history and factor rows;
    returns how many were found in each."""
    folder = models / version
    history = load_history(folder)
    gone = {user for user in history.users.ids if erased(user)}
    if gone:
        save_history(folder, history.without_users(gone))
    model = load_model(models, version)
    rows = {i for i, user in enumerate(model.users.ids) if erased(user)}
    if rows:
        keep = np.array([i for i in range(len(model.users)) if i not in rows], dtype=np.int64)
        model = replace(
            model,
            users=Vocabulary(model.users.ids[i] for i in keep),
            user_factors=model.user_factors[keep],
            user_tag_profiles=model.user_tag_profiles[keep],
        )
        save_model_files(folder, model)
    return {"history": len(gone), "model_factors": len(rows)}
