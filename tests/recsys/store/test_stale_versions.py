"""Killed rebuilds leave no garbage: what a rebuild killed before its commit or abort wrote
into a store is removed by ``drop_stale_versions`` (run at a rebuild's start) and by
``recsys store gc``, in both stores, and the current version is never touched.

A writer that put users and then was neither committed nor aborted is exactly what a SIGKILLed
rebuild leaves: its workers' chunks are in the store under a version that never becomes
current. Each check opens a new store connection afterwards, as the next process would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from recsys.domain.mix import Mix, MixTrack, Reason
from recsys.jobs.rebuild import rebuild_lock
from recsys.payload.codec import decode_user, encode_user
from recsys.settings import load_settings
from recsys.store.base import MixStore
from recsys.store.embedded import STORE_FILE, EmbeddedStore
from recsys.store.redis_store import RedisSettings, RedisStore
from tests.recsys.cli_runner import run_cli

AT = datetime(2026, 11, 26, tzinfo=UTC)
USERS = [f"u{n:04d}" for n in range(50)]
# The CLI opens Redis with config/default.toml's prefix.
CLI_PREFIX = load_settings(None, {}, Path.cwd()).redis.prefix


def _payload(tag: str) -> bytes:
    track = MixTrack("t1", ("a",), "One", Reason("history", {"artist_id": "a"}))
    return encode_user([Mix(f"mix-{tag}", "mix", f"Mix {tag}", AT, "p", "m", (track,))], None)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "embedded":
        return "embedded"
    url: str = request.getfixturevalue("redis_url")
    return url


def open_store(url: str, state: Path, prefix: str = CLI_PREFIX) -> MixStore:
    if url == "embedded":
        return EmbeddedStore(state)
    return RedisStore(url, RedisSettings(prefix=prefix))


def stored_versions(url: str, state: Path, prefix: str = CLI_PREFIX) -> dict[str, int]:
    """Every version the store holds users of, with their count, read around the store's own
    code (its ``versions`` set could hide a hash it lost track of)."""
    if url == "embedded":
        store = EmbeddedStore(state)
        try:
            rows = store.conn.execute(
                "SELECT version, COUNT(*) FROM user_payloads GROUP BY version"
            ).fetchall()
        finally:
            store.close()
        return {str(v): int(n) for v, n in rows}
    client = redis.Redis.from_url(url)
    try:
        found = {
            key.decode().removeprefix(f"{prefix}mixes:"): int(client.hlen(key))
            for key in client.scan_iter(match=f"{prefix}mixes:*")
        }
        found |= {
            m.decode(): found.get(m.decode(), 0) for m in client.smembers(f"{prefix}versions")
        }
        return found
    finally:
        client.close()


def current_and_killed(url: str, state: Path, prefix: str = CLI_PREFIX) -> None:
    """A committed version "v1", then a rebuild's version "v2" that put every user and was
    killed before its switch: neither committed nor aborted."""
    store = open_store(url, state, prefix)
    try:
        current = store.begin("v1")
        current.put_many((u, _payload("1")) for u in USERS)
        current.commit(len(USERS))
        killed = store.begin("v2")
        killed.put_many((u, _payload("2")) for u in USERS[:30])
        killed.put_many((u, _payload("2")) for u in USERS[30:40])  # a chunk more, then killed
    finally:
        store.close()


def _serves_v1(url: str, state: Path) -> None:
    store = open_store(url, state)
    try:
        assert store.current_version() == "v1"
        for user in (USERS[0], USERS[-1]):
            assert decode_user(store.read_user(user) or b"")["mixes"][0]["mix_id"] == "mix-1"
    finally:
        store.close()


def test_a_killed_rebuilds_version_is_dropped_and_the_current_one_kept(
    store_url: str, tmp_path: Path
) -> None:
    current_and_killed(store_url, tmp_path)
    assert stored_versions(store_url, tmp_path) == {"v1": 50, "v2": 40}
    store = open_store(store_url, tmp_path)
    try:
        assert store.drop_stale_versions() == ["v2"]
        assert store.drop_stale_versions() == []  # nothing left the second time
    finally:
        store.close()
    assert stored_versions(store_url, tmp_path) == {"v1": 50}
    _serves_v1(store_url, tmp_path)


def test_with_no_current_version_every_version_is_stale(store_url: str, tmp_path: Path) -> None:
    """The very first rebuild killed: nothing is current, and nothing is kept."""
    store = open_store(store_url, tmp_path)
    try:
        for version in ("v1", "v2"):
            store.begin(version).put_many((u, _payload(version)) for u in USERS[:5])
    finally:
        store.close()
    store = open_store(store_url, tmp_path)
    try:
        assert store.drop_stale_versions() == ["v1", "v2"]
        assert store.current_version() is None
    finally:
        store.close()
    assert stored_versions(store_url, tmp_path) == {}


@pytest.mark.redis
def test_a_hash_the_versions_set_lost_is_found_and_only_this_prefixs(redis_url: str) -> None:
    """A killed rebuild's orphaned worker may write on after its version left the ``versions``
    set: SCAN finds the hash all the same. A prefix holding glob characters matches only
    itself, so another deployment's keys in the same database are left alone."""
    prefix = "a*[b]:"
    store = RedisStore(redis_url, RedisSettings(prefix=prefix))
    client = redis.Redis.from_url(redis_url)
    try:
        current = store.begin("v1")
        current.put_many([("u1", _payload("1"))])
        current.commit(1)
        client.hset(f"{prefix}mixes:orphan", "u1", _payload("x"))  # never in the set
        client.hset("aXb:mixes:other", "u1", _payload("o"))  # matched by a*[b] as a glob
        client.hset("a*[b]:current-notes", "k", "v")  # not a version hash
        assert store.drop_stale_versions() == ["orphan"]
        assert client.exists(f"{prefix}mixes:v1", "aXb:mixes:other", "a*[b]:current-notes") == 3
        assert not client.exists(f"{prefix}mixes:orphan")
        assert store.read_user("u1") is not None
    finally:
        client.close()
        store.close()


# -------------------------------------------------------------------------------------------
# `recsys store gc`


def _gc(state: Path, store_url: str, *args: str) -> tuple[int, str, list[str]]:
    result = run_cli("store", "gc", *args, state_dir=state, env={"RECSYS_STORE": store_url})
    return result.code, result.out, result.err.splitlines()


def test_store_gc_removes_a_killed_rebuilds_version(store_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    current_and_killed(store_url, state)
    code, out, err = _gc(state, store_url, "--json")
    assert (code, err) == (0, [])
    name = "embedded" if store_url == "embedded" else "redis"
    assert json.loads(out) == {"store": name, "current": "v1", "dropped": ["v2"]}
    assert stored_versions(store_url, state) == {"v1": 50}
    _serves_v1(store_url, state)
    code, out, err = _gc(state, store_url)
    assert (code, err) == (0, [])
    assert out == f"store gc ({name}): nothing to remove; current version v1 kept\n"


def test_store_gc_refuses_while_a_rebuild_holds_the_lock(store_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    current_and_killed(store_url, state)
    with rebuild_lock(state):  # a rebuild running: its version is being written
        code, out, err = _gc(state, store_url)
    assert code == 1
    assert out == ""
    assert len(err) == 1, err
    assert err[0].startswith("recsys: error: store gc refused: a rebuild is running")
    assert "Traceback" not in err[0]
    assert stored_versions(store_url, state) == {"v1": 50, "v2": 40}  # nothing removed


def test_store_gc_help_gives_an_example_and_the_exit_codes(tmp_path: Path) -> None:
    result = run_cli("store", "gc", "--help", state_dir=tmp_path)
    assert result.code == 0
    assert "recsys store gc --json" in result.out
    assert "exit status" in result.out
    assert not (tmp_path / STORE_FILE).exists()  # help opens nothing
