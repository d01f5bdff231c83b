"""The server's live view of the state: per-thread connections and the current engine.

uvicorn runs sync endpoints in a thread pool, and an SQLite connection must not be shared by
two threads at once, so every thread gets its own connection (opened on first use, closed at
shutdown). The engine is one immutable value behind one attribute: a reload builds a new
engine off to the side and swaps it in with a single assignment, so a request sees the old
engine or the new one, never half of each.

What makes the engine stale, and how the server notices:

* the API's own edits (links, flags, reviews, erasure) refresh it before the call returns;
* a rebuild by the cron job moves the ``pool`` and ``model`` pointers, then the store's
  version; the command-line staff tools (and other server processes) change the state from
  elsewhere, and every staff change writes an audit record. So at most once per
  ``check_interval_s`` a request starts a background thread that compares the pointers, the
  newest audit id and the store version with what the engine was built from, and catches up
  when they moved. Changes made elsewhere thus count within about that interval.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from pool.importer import POOL_POINTER
from pool.state import STATE_FILE, get_pointer, load_serving_exclusions
from recsys.engine.loading import Engine, load_engine
from recsys.settings import Settings
from recsys.store.base import MixStore, StoreUnavailableError
from recsys.training.run import MODEL_POINTER

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Audit actions of changes that alter the graph or the engine's per-user data, and of changes
# that alter only which tracks are withheld now (a revocation withholds the pool's tracks of
# the revoked partner, label or artist at the next read; a grant only counts at the next pool
# build, and finds nothing to withhold). Other actions (tokens, exclusions) need nothing: they
# are read fresh per request.
RELOAD_ACTIONS = ("links.", "users.erase")
EXCLUSION_ACTIONS = ("flags.", "takedowns.", "trust.")


class StateConnections:
    """One SQLite connection to the state per thread; the schemas exist already."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / STATE_FILE
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def open(self) -> sqlite3.Connection:
        """A new connection, for the caller to close (background work)."""
        # check_same_thread=False only so that close_all may close it from the main thread;
        # each connection is still used by the one thread that opened it.
        conn = sqlite3.connect(
            self._path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA secure_delete=ON")  # erased rows are zeroed, not left in free pages
        return conn

    def current(self) -> sqlite3.Connection:
        """This thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.open()
            with self._lock:
                self._opened.append(conn)
        return conn

    def close_all(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()


@dataclass(frozen=True, slots=True)
class StateMarks:
    """What the engine was built from: enough to tell cheaply that the state moved since."""

    pool: str | None
    model: str | None
    audit_id: int
    store_version: str | None


def read_marks(conn: sqlite3.Connection, store_version: str | None) -> StateMarks:
    (audit_id,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit_log").fetchone()
    return StateMarks(
        get_pointer(conn, POOL_POINTER),
        get_pointer(conn, MODEL_POINTER),
        int(audit_id),
        store_version,
    )


def actions_since(conn: sqlite3.Connection, audit_id: int) -> list[str]:
    """Actions of the successful changes recorded after ``audit_id``."""
    rows = conn.execute(
        "SELECT DISTINCT action FROM audit_log WHERE id > ? AND result = 'ok'", (audit_id,)
    )
    return [r[0] for r in rows]


def _freeze_for_gc() -> None:
    """Move everything alive now (the engine just loaded: millions of long-lived objects) out
    of the cyclic garbage collector's sight. Requests create short-lived objects, and every
    full collection would otherwise walk the whole engine: tens of milliseconds, paid by
    whichever request triggered it (the p99). A replaced engine is still freed by reference
    counting; only reference cycles in it would stay, and it holds none of note."""
    gc.freeze()


class LiveEngine:
    """The current engine, kept in step with the state and the store's withheld set.

    ``generation`` grows by one at every change of what a read may answer (a new engine, a
    new withheld set, a new store version); listeners registered with ``on_change`` (the
    response caches) are called after each such change, under the same lock.
    """

    def __init__(
        self,
        settings: Settings,
        store: MixStore,
        state: StateConnections,
        clock: Clock,
        *,
        check_interval_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._store = store
        self._state = state
        self._clock = clock
        self._interval = check_interval_s
        self._monotonic = monotonic
        self._sync_lock = threading.Lock()
        self._next_check = monotonic() + check_interval_s
        self._store_behind = False
        self._listeners: list[Callable[[], None]] = []
        self.generation = 0
        conn = state.current()
        self._marks = read_marks(conn, self._store_version(None))
        self._engine = load_engine(conn, settings.state_dir, settings, clock()).warm_up()
        _freeze_for_gc()
        try:
            self._sync_store(self._engine)
        except StoreUnavailableError as error:
            # Start anyway: /healthz reports the store, and the next check retries.
            log.warning("store unavailable at start-up: %s", error)

    @property
    def engine(self) -> Engine:
        """The engine as last swapped in (no staleness check)."""
        return self._engine

    @property
    def store_version(self) -> str | None:
        """The store's current version as last checked (None: the store held none, or has
        not answered since start-up); /healthz reports it without asking the store again."""
        return self._marks.store_version

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def current(self) -> Engine:
        """The engine for a request. At most once per interval, a background thread checks
        whether the state or the store moved and catches up; the request never waits."""
        now = self._monotonic()
        if now >= self._next_check:
            self._next_check = now + self._interval
            if not self._sync_lock.locked():
                threading.Thread(target=self._catch_up, name="engine-catch-up", daemon=True).start()
        return self._engine

    def _catch_up(self) -> None:
        if not self._sync_lock.acquire(blocking=False):
            return  # another catch-up or an edit is syncing; it reads the newest state
        conn = self._state.open()
        try:
            self._sync(conn, reload=False, exclusions=False)
        except Exception:
            # Serving goes on with the engine it has; the next check tries again.
            log.exception("could not catch up with the state; serving the previous engine")
        finally:
            conn.close()
            self._sync_lock.release()

    def reload(self) -> None:
        """Rebuild the engine now (after a link edit or an erasure by this server)."""
        with self._sync_lock:
            self._sync(self._state.current(), reload=True, exclusions=False)

    def refresh_exclusions(self) -> None:
        """Recompute what is withheld now (after a flag or a review by this server)."""
        with self._sync_lock:
            self._sync(self._state.current(), reload=False, exclusions=True)

    def check_now(self) -> None:
        """Catch up with the state synchronously (for callers that must not wait a second)."""
        with self._sync_lock:
            self._sync(self._state.current(), reload=False, exclusions=False)

    def _store_version(self, previous: str | None) -> str | None:
        try:
            return self._store.current_version()
        except StoreUnavailableError:
            return previous  # unknown for now; the next check asks again

    def _sync(self, conn: sqlite3.Connection, *, reload: bool, exclusions: bool) -> None:
        # Marks are read before the state: a change landing meanwhile is seen next time.
        marks = read_marks(conn, self._store_version(self._marks.store_version))
        if marks.pool != self._marks.pool or marks.model != self._marks.model:
            reload = True
        if marks.audit_id != self._marks.audit_id:
            actions = actions_since(conn, self._marks.audit_id)
            reload = reload or any(a.startswith(RELOAD_ACTIONS) for a in actions)
            exclusions = exclusions or any(a.startswith(EXCLUSION_ACTIONS) for a in actions)
        changed = (
            reload
            or exclusions
            or self._store_behind  # reads since the failed sync may have been cached
            or marks.store_version != self._marks.store_version
        )
        engine = self._engine
        if reload:
            engine = load_engine(
                conn, self._settings.state_dir, self._settings, self._clock()
            ).warm_up()
            log.info(
                "engine reloaded: pool %s, model %s",
                engine.gate.pool_version,
                engine.context.model_version,
            )
        elif exclusions:
            withheld = load_serving_exclusions(
                conn, self._settings.ai, engine.gate.pool_version, engine.context.catalog.tracks
            )
            engine = replace(engine, gate=replace(engine.gate, exclusions=withheld))
        self._engine = engine
        self._marks = marks
        if reload:
            _freeze_for_gc()
        try:
            if reload or exclusions or self._store_behind:
                self._sync_store(engine)
        finally:
            if changed:
                self._changed()

    def _changed(self) -> None:
        self.generation += 1
        for listener in self._listeners:
            listener()

    def _sync_store(self, engine: Engine) -> None:
        """Tell the store what is withheld now; stored mixes are filtered against it."""
        try:
            self._store.replace_excluded_tracks(engine.gate.exclusions.withheld())
        except StoreUnavailableError:
            self._store_behind = True  # retried at the next check
            raise
        self._store_behind = False
