"""The listener read paths as the server runs them: on the event loop, cached.

Why on the event loop and not in sync endpoints: each sync endpoint (and sync dependency) costs
a hop to the thread pool, and the pool's threads then fight the event loop for the GIL; with
`bench_serving.py` on this 2-core machine that cost an uncached mix read about 1 ms more of
server CPU and tripled its p99, and a radio half as much again. The work is CPU-bound Python
either way, so threads bought no parallelism. The one thing that could hold the loop is the
store, and Redis is called with explicit timeouts behind a breaker (``StoreBreaker``): after a
failure, reads stop asking it for a moment and answer with the service's fallback.

Why a cache: a listener's stored mixes change only when a rebuild publishes a new store
version, a flag or review changes what is withheld, or the listener changes an exclusion;
and an anonymous radio is the same for everyone until the engine changes. So a rendered answer
is kept until the live engine's ``generation`` moves (every such change moves it, and clears
the cache, erasures included), and only for the same day and the listener's current
exclusions. Changes made by this process count at once; changes made elsewhere (another
worker, the CLI, the cron job) within the engine's check interval, as for the engine itself.
The cache is bounded in bytes and drops the least recently used answers first; 0 turns it off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.responses import Response

from recsys.api.responses import JsonResponse, render_json
from recsys.api.services import Services
from recsys.serving import answers
from recsys.store.base import MixStore, StoreUnavailableError, VersionWriter

STORE_COOLDOWN_S = 2.0
StoredPart = Literal["mixes", "release_radar"]
RadioKind = Literal["artist", "track"]


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What /healthz says of the store: whether it answers, and the mix version it serves
    (None when it holds none: never rebuilt, or restarted empty)."""

    answers: bool
    version: str | None


class ResponseCache:
    """Rendered JSON bodies of one engine generation, bounded in bytes, LRU."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[int, Hashable, bytes]] = OrderedDict()
        self._bytes = 0
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, generation: int, variant: Hashable) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != generation or entry[1] != variant:
                return None
            self._entries.move_to_end(key)
            return entry[2]

    def put(self, key: Hashable, generation: int, variant: Hashable, body: bytes) -> None:
        """Keep ``body`` unless the generation it was computed for is already over."""
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if generation != self._generation:
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[2])
            self._entries[key] = (generation, variant, body)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    def new_generation(self, generation: int) -> None:
        """Forget everything: answers of an older generation may no longer be given."""
        with self._lock:
            self._generation = generation
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class StoreBreaker:
    """Keeps the event loop from waiting on a store that just failed.

    Reads call the store on the event loop, so a store that does not answer would hold every
    request for its timeouts. After a failure the breaker opens: for ``cooldown_s`` reads fail
    at once (and the service answers with its non-personalised fallback); then one read tries
    the store again.
    """

    def __init__(self, cooldown_s: float, monotonic: Callable[[], float] = time.monotonic):
        self._cooldown = cooldown_s
        self._monotonic = monotonic
        self._open_until = 0.0

    def is_open(self) -> bool:
        return self._monotonic() < self._open_until

    def trip(self) -> None:
        self._open_until = self._monotonic() + self._cooldown

    def call(self, operation: Callable[[], Any]) -> Any:
        if self.is_open():
            raise StoreUnavailableError("the store failed a moment ago; not asking it again yet")
        try:
            return operation()
        except StoreUnavailableError:
            self.trip()
            raise

    def ping(self, store: MixStore) -> bool:
        if self.is_open():
            return False
        healthy = store.ping()
        if not healthy:
            self.trip()
        return healthy


class _ReadStore:
    """The store for one read: through the breaker, noting whether it failed (the service
    then answers with a non-personalised fallback, which must not be cached as the
    listener's mixes)."""

    def __init__(self, store: MixStore, breaker: StoreBreaker) -> None:
        self._store = store
        self._breaker = breaker
        self.name = store.name
        self.failed = False

    def _call(self, operation: Callable[[], Any]) -> Any:
        try:
            return self._breaker.call(operation)
        except StoreUnavailableError:
            self.failed = True
            raise

    def read_user(self, user_id: str) -> bytes | None:
        result: bytes | None = self._call(lambda: self._store.read_user(user_id))
        return result

    def excluded_among(self, track_ids: list[str]) -> set[str]:
        result: set[str] = self._call(lambda: self._store.excluded_among(track_ids))
        return result

    # The rest of MixStore, passed through (the read path does not use them).
    def begin(self, version: str) -> VersionWriter:
        return self._store.begin(version)

    def current_version(self) -> str | None:
        return self._store.current_version()

    def delete_user(self, user_id: str) -> None:
        self._store.delete_user(user_id)

    def drop_stale_versions(self) -> list[str]:
        return list(self._store.drop_stale_versions())

    def replace_excluded_tracks(self, track_ids: Iterable[str]) -> None:
        self._store.replace_excluded_tracks(track_ids)

    def ping(self) -> bool:
        return self._store.ping()

    def close(self) -> None:
        self._store.close()


class ListenerReads:
    """Stored mixes, Release Radar and radios, rendered once per engine generation."""

    def __init__(
        self,
        found: Services,
        *,
        stored_bytes: int,
        radio_bytes: int,
        store_cooldown_s: float = STORE_COOLDOWN_S,
    ) -> None:
        self._found = found
        self._stored = ResponseCache(stored_bytes)
        self._radios = ResponseCache(radio_bytes)
        self.breaker = StoreBreaker(store_cooldown_s)
        found.live.on_change(self._new_generation)

    def store_health(self) -> StoreHealth:
        """For /healthz: a ping (unless the store failed a moment ago) and the version served.

        The version is the live engine's last check, which costs nothing; only when that saw
        none is the store asked, so that a store back from a restart is not called empty for
        a check interval, while /healthz stays a trivial endpoint when all is well. A version
        found that way makes the engine catch up first: /healthz never names a version whose
        mixes the reads (and their cache) do not serve yet.
        """
        store = self._found.store
        if not self.breaker.ping(store):
            return StoreHealth(answers=False, version=None)
        version = self._found.live.store_version
        if version is None:
            try:
                version = self.breaker.call(store.current_version)
            except StoreUnavailableError:
                return StoreHealth(answers=False, version=None)
            if version is not None:
                self._found.live.check_now()
        return StoreHealth(answers=True, version=version)

    def _new_generation(self) -> None:
        generation = self._found.live.generation
        self._stored.new_generation(generation)
        self._radios.new_generation(generation)

    def stored(self, user_id: str, part: StoredPart) -> Response:
        found = self._found
        # The generation is read before the engine: an answer computed from an engine swapped
        # in meanwhile is then filed under the older generation, which put() refuses.
        generation = found.live.generation
        engine, exclusions = found.engine_for(user_id)
        key = (part, user_id)
        # Mixes made on the spot (a listener the store does not hold) depend on the day.
        variant = (exclusions, engine.context.today)
        body = self._stored.get(key, generation, variant)
        if body is not None:
            return JsonResponse(body)
        store = _ReadStore(found.store, self.breaker)
        read = answers.read_user_mixes_json if part == "mixes" else answers.read_release_radar_json
        body = read(engine, store, user_id, exclusions)
        if not store.failed:
            self._stored.put(key, generation, variant, body)
        return JsonResponse(body)

    def radio(
        self, kind: RadioKind, seed_id: str, user_id: str | None, limit: int | None
    ) -> Response:
        found = self._found
        generate = answers.artist_radio if kind == "artist" else answers.track_radio
        if user_id is not None:
            # Personalised: one listener's, not worth keeping.
            mine = found.engine_for(user_id)[0]
            return JsonResponse(render_json(generate(mine, seed_id, user_id, limit)))
        generation = found.live.generation
        engine = found.engine_at_now()
        key = (kind, seed_id, limit)
        day = engine.context.today
        body = self._radios.get(key, generation, day)
        if body is None:
            body = render_json(generate(engine, seed_id, None, limit))
            self._radios.put(key, generation, day, body)
        return JsonResponse(body)
