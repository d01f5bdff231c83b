"""The Redis mix store, for production: pipelined writes, versioned hashes, one atomic switch.

Every rebuild writes its users into the hash ``<prefix>mixes:<version>``; ``commit`` checks the
hash holds exactly the expected number of users (HLEN), then points ``<prefix>current`` at it
with one SET and unlinks older versions. A reader resolves the pointer and the user in one Lua
call, so it sees the old version or the new one, never a mix of both.

Explicit connect and socket timeouts (redis-py can otherwise wait forever on a black-holed
connection) and retries with exponential backoff; when Redis still does not answer, callers
get ``StoreUnavailableError`` (HTTP 503), never a hang.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from recsys.store.base import StoreIntegrityError, StoreUnavailableError

log = logging.getLogger(__name__)

# The current version's payload for one user, and the withheld set's stamp, in one call.
_READ_CURRENT_USER = """
local stamp = redis.call('GET', KEYS[2]) or '0'
local version = redis.call('GET', KEYS[1])
if not version then return {false, stamp} end
return {redis.call('HGET', ARGV[1] .. version, ARGV[2]), stamp}
"""


def _glob_escape(text: bytes) -> bytes:
    """``text`` matched literally by a SCAN pattern (a prefix may hold ``*``, ``?`` or ``[``)."""
    return re.sub(rb"([*?\[\]\\])", rb"\\\1", text)


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """``config/default.toml`` ``[redis]``."""

    prefix: str = "recsys:"
    connect_timeout_s: float = 0.5
    socket_timeout_s: float = 1.0
    retries: int = 2
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 0.5
    write_batch: int = 500


class RedisVersionWriter:
    def __init__(self, store: RedisStore, version: str) -> None:
        self._store = store
        self._version = version
        self._key = store.key(f"mixes:{version}")
        store.call(lambda r: r.sadd(store.key("versions"), version))

    def for_worker(self) -> RedisVersionWriter:
        store = self._store
        return RedisVersionWriter(RedisStore(store.url, store.settings), self._version)

    def put_many(self, users: Iterable[tuple[str, bytes]]) -> None:
        batch = self._store.settings.write_batch

        def write(r: redis.Redis) -> None:
            pipe = r.pipeline(transaction=False)
            pending = 0
            for user_id, payload in users:
                pipe.hset(self._key, user_id, payload)
                pending += 1
                if pending >= batch:
                    pipe.execute()
                    pending = 0
            if pending:
                pipe.execute()

        self._store.call(write)

    def commit(self, expected_users: int) -> None:
        store = self._store
        count = int(store.call(lambda r: r.hlen(self._key)))
        if count != expected_users:
            raise StoreIntegrityError(
                f"version {self._version} holds {count} users in Redis, expected"
                f" {expected_users}; the previous version stays current"
            )
        store.call(lambda r: r.set(store.key("current"), self._version))
        store.drop_versions_except(self._version)

    def abort(self) -> None:
        """Drop the unfinished version, best effort.

        Called while another error propagates (often Redis itself going away): raising here
        would replace that error with a less telling one. A version left behind is never
        current, and the next commit drops it with every other old version.
        """
        store = self._store
        try:
            if store.current_version() != self._version:
                store.call(lambda r: r.unlink(self._key))
                store.call(lambda r: r.srem(store.key("versions"), self._version))
        except StoreUnavailableError as error:
            log.warning(
                "could not drop the unfinished version %s (the next rebuild will): %s",
                self._version,
                error,
            )


class RedisStore:
    name = "redis"

    def __init__(self, url: str, settings: RedisSettings) -> None:
        self.url = url
        self.settings = settings
        retry = Retry(
            ExponentialBackoff(cap=settings.backoff_cap_s, base=settings.backoff_base_s),
            settings.retries,
        )
        try:
            self.client = redis.Redis.from_url(
                url,
                socket_connect_timeout=settings.connect_timeout_s,
                socket_timeout=settings.socket_timeout_s,
                retry=retry,
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
                health_check_interval=30,
            )
        except ValueError as error:
            raise StoreUnavailableError(f"bad Redis URL {url!r}: {error}") from error
        self._read_user = self.client.register_script(_READ_CURRENT_USER)
        # The withheld set as last fetched, with the stamp it had; and per thread, the stamp
        # its last read_user saw (so excluded_among answers for that very moment).
        self._excluded: tuple[bytes, frozenset[str]] | None = None
        self._seen = threading.local()

    def key(self, name: str) -> str:
        return f"{self.settings.prefix}{name}"

    def call(self, operation: Any) -> Any:
        """Run one operation; Redis failures become ``StoreUnavailableError``."""
        try:
            return operation(self.client)
        except RedisError as error:
            raise StoreUnavailableError(f"Redis did not answer: {error}") from error

    def begin(self, version: str) -> RedisVersionWriter:
        return RedisVersionWriter(self, version)

    def current_version(self) -> str | None:
        value = self.call(lambda r: r.get(self.key("current")))
        return None if value is None else value.decode()

    def read_user(self, user_id: str) -> bytes | None:
        value, stamp = self.call(
            lambda r: self._read_user(
                keys=[self.key("current"), self.key("excluded:stamp")],
                args=[self.key("mixes:"), user_id],
                client=r,
            )
        )
        self._seen.stamp = bytes(stamp)
        return None if value is None else bytes(value)

    def versions(self) -> set[str]:
        return {v.decode() for v in self.call(lambda r: r.smembers(self.key("versions")))}

    def drop_versions_except(self, keep: str) -> None:
        for version in self.versions() - {keep}:
            self.call(lambda r, v=version: r.unlink(self.key(f"mixes:{v}")))
            self.call(lambda r, v=version: r.srem(self.key("versions"), v))

    def drop_stale_versions(self) -> list[str]:
        """Unlink every version but the current one; return them, sorted.

        A commit drops the versions in the ``versions`` set and an abort its own, but a
        rebuild killed with SIGKILL does neither, and an abort that met Redis down leaves
        its hash too: gigabytes at a million users, kept until a later rebuild commits.
        Hashes are looked for in the set and by SCAN over ``<prefix>mixes:*`` as well, for a
        hash the set lost track of (a killed rebuild's orphaned worker writing on after its
        version was dropped). Run at the start of a rebuild and by ``recsys store gc``, both
        under the rebuild lock, so no version being written is dropped. With no current
        version (a first rebuild killed), every version is stale.
        """
        current = self.current_version()
        hashes = self.key("mixes:").encode()
        stale: dict[bytes, bytes] = {}  # version -> its hash's key, as Redis holds them
        for member in self.call(lambda r: r.smembers(self.key("versions"))):
            stale[bytes(member)] = hashes + bytes(member)

        def scan(r: redis.Redis) -> list[bytes]:
            pattern = _glob_escape(hashes) + b"*"
            return [bytes(k) for k in r.scan_iter(match=pattern, count=1000)]

        for key in self.call(scan):
            stale.setdefault(key[len(hashes) :], key)
        if current is not None:
            stale.pop(current.encode(), None)
        for version, key in sorted(stale.items()):
            self.call(lambda r, k=key: r.unlink(k))
            self.call(lambda r, v=version: r.srem(self.key("versions"), v))
        return [v.decode(errors="backslashreplace") for v in sorted(stale)]

    def delete_user(self, user_id: str) -> None:
        for version in self.versions():
            self.call(lambda r, v=version: r.hdel(self.key(f"mixes:{v}"), user_id))

    def replace_excluded_tracks(self, track_ids: Iterable[str]) -> None:
        staging, target = self.key("excluded:staging"), self.key("excluded")
        members = list(track_ids)

        def replace(r: redis.Redis) -> None:
            pipe = r.pipeline(transaction=True)
            pipe.delete(staging)
            for start in range(0, len(members), 10_000):
                pipe.sadd(staging, *members[start : start + 10_000])
            if members:
                pipe.rename(staging, target)
            else:
                pipe.delete(target)
            pipe.incr(self.key("excluded:stamp"))  # every reader's copy is now stale
            pipe.execute()

        self.call(replace)

    def excluded_among(self, track_ids: list[str]) -> set[str]:
        """Which of ``track_ids`` are withheld. Right after this thread's ``read_user``, from
        this process's copy of the set when its stamp is the one that read saw (so a read
        costs one round trip, and a change made anywhere counts at the next read);
        otherwise asked of Redis."""
        if not track_ids:
            return set()
        stamp = getattr(self._seen, "stamp", None)
        self._seen.stamp = None
        if stamp is None:
            flags = self.call(lambda r: r.smismember(self.key("excluded"), track_ids))
            return {t for t, flagged in zip(track_ids, flags, strict=True) if flagged}
        cached = self._excluded
        if cached is None or cached[0] != stamp:
            cached = self._fetch_excluded()
            self._excluded = cached
        return {t for t in track_ids if t in cached[1]}

    def _fetch_excluded(self) -> tuple[bytes, frozenset[str]]:
        def fetch(r: redis.Redis) -> list[Any]:
            pipe = r.pipeline(transaction=True)
            pipe.get(self.key("excluded:stamp"))
            pipe.smembers(self.key("excluded"))
            return list(pipe.execute())

        stamp, members = self.call(fetch)
        return (stamp or b"0"), frozenset(m.decode() for m in members)

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except RedisError:
            return False

    def close(self) -> None:
        self.client.close()
