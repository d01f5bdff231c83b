"""The cron job end to end on the embedded store and on a real Redis: every user published,
a failed or concurrent rebuild never replaces what is served, flags and erasure act at once."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pool.model import AiFlag
from pool.state import add_flag, load_serving_exclusions
from recsys.domain.exclusions import NO_EXCLUSIONS
from recsys.engine.loading import load_engine
from recsys.jobs.rebuild import (
    MAX_CHUNK_USERS,
    MIN_CHUNK_USERS,
    RebuildLockedError,
    chunk_bounds,
    compile_side_by_side,
    prepare_generation,
    rebuild_lock,
)
from recsys.listening.history import load_history
from recsys.serving import answers
from recsys.serving.basis import listener_basis
from recsys.settings import Settings, load_settings
from recsys.state.privacy import erase_user
from recsys.state.schema import open_engine_state
from recsys.store.base import MixStore, VersionWriter
from recsys.store.factory import open_store
from recsys.world import WorldConfig, generate_world
from tests.recsys.invariants import forbidden_tracks
from tests.recsys.trained_world import train_world
from tests.staff import trusted_rebuild

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
LATER = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _quiet(done: int, total: int) -> None:
    del done, total


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("rebuild-world")
    generate_world(
        root / "data", WorldConfig(users=300, artists=60, seed=8, today=date(2026, 11, 26))
    )
    return root / "data", json.loads((root / "data.truth.json").read_text())


def _settings(tmp_path: Path, store_url: str = "embedded") -> Settings:
    return replace(
        load_settings(None, {}, tmp_path), state_dir=tmp_path / "state", store_url=store_url
    )


class FailingStore:
    """A real store whose version writer breaks after the first batch, like a crash."""

    def __init__(self, inner: MixStore) -> None:
        self.inner = inner
        self.name = inner.name

    def begin(self, version: str) -> VersionWriter:
        writer = self.inner.begin(version)
        calls = {"n": 0}

        class Broken:
            def put_many(self, users: Iterable[tuple[str, bytes]]) -> None:
                calls["n"] += 1
                if calls["n"] > 1:
                    raise OSError("disk full in the middle of the rebuild")
                writer.put_many(users)

            def commit(self, expected_users: int) -> None:
                writer.commit(expected_users)

            def abort(self) -> None:
                writer.abort()

        return Broken()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _rebuild_then_fail(settings: Settings, data: Path) -> None:
    first = trusted_rebuild(settings, data, NOW, progress=_quiet, workers=1)
    store = open_store(settings)
    try:
        version = store.current_version()
        assert version == first["store"]["version"]
        some_user = first["generation"]["users"] and store.read_user("u0000001")
        with pytest.raises(OSError, match="disk full"):
            trusted_rebuild(
                settings, data, LATER, progress=_quiet, workers=1, store=FailingStore(store)
            )  # type: ignore[arg-type]
        assert store.current_version() == version
        assert store.read_user("u0000001") == some_user
    finally:
        store.close()


def test_rebuild_publishes_every_user_and_outputs_are_clean(
    tmp_path: Path, world: tuple[Path, dict[str, Any]]
) -> None:
    _publishes_every_user_and_outputs_are_clean(_settings(tmp_path), *world)


@pytest.mark.redis
def test_rebuild_workers_publish_every_user_into_redis(
    tmp_path: Path, world: tuple[Path, dict[str, Any]], redis_url: str
) -> None:
    """Each worker writes through a Redis connection of its own; the version's count check
    at the switch sees every user."""
    _publishes_every_user_and_outputs_are_clean(_settings(tmp_path, redis_url), *world)


def _publishes_every_user_and_outputs_are_clean(
    settings: Settings, data: Path, truth: dict[str, Any]
) -> None:
    summary = trusted_rebuild(settings, data, NOW, progress=_quiet, workers=2)
    assert summary["store"]["name"] == ("embedded" if settings.store_url == "embedded" else "redis")
    generation = summary["generation"]
    assert generation["users"] >= 270  # everyone but bots with no follows or exclusions
    assert generation["mixes"] > generation["users"]
    conn = open_engine_state(settings.state_dir)
    engine = load_engine(conn, settings.state_dir, settings, NOW)
    conn.close()
    store = open_store(settings)
    assert store.current_version() == summary["store"]["version"]
    forbidden = forbidden_tracks(truth)
    for user_id in engine.known_users():
        assert store.read_user(user_id) is not None, user_id
        mixes = answers.read_user_mixes(engine, store, user_id, NO_EXCLUSIONS)["mixes"]
        radar = answers.read_release_radar(engine, store, user_id, NO_EXCLUSIONS)
        served = {t["track_id"] for m in [*mixes, radar] for t in m["tracks"]}
        assert not served & forbidden
    store.close()


def test_a_failed_rebuild_leaves_the_previous_version_served(
    tmp_path: Path, world: tuple[Path, dict[str, Any]]
) -> None:
    _rebuild_then_fail(_settings(tmp_path), world[0])


@pytest.mark.redis
def test_a_failed_rebuild_leaves_the_previous_version_served_on_redis(
    tmp_path: Path, world: tuple[Path, dict[str, Any]], redis_url: str
) -> None:
    _rebuild_then_fail(_settings(tmp_path, redis_url), world[0])


def test_a_second_rebuild_refuses_while_one_runs(
    tmp_path: Path, world: tuple[Path, dict[str, Any]]
) -> None:
    settings = _settings(tmp_path)
    with rebuild_lock(settings.state_dir), pytest.raises(RebuildLockedError, match="running"):
        trusted_rebuild(settings, world[0], NOW, progress=_quiet, workers=1)


def test_a_flag_removes_a_stored_track_at_the_next_read(
    tmp_path: Path, world: tuple[Path, dict[str, Any]]
) -> None:
    settings = _settings(tmp_path)
    trusted_rebuild(settings, world[0], NOW, progress=_quiet, workers=1)
    conn = open_engine_state(settings.state_dir)
    engine = load_engine(conn, settings.state_dir, settings, NOW)
    store = open_store(settings)
    user = next(u for u in engine.history.users.ids if store.read_user(u) is not None)
    before = answers.read_user_mixes(engine, store, user, NO_EXCLUSIONS)["mixes"]
    victim = before[0]["tracks"][1]["track_id"]
    add_flag(
        conn, AiFlag(victim, "curator", 1.0, LATER), by="carol", why="confirmed AI", role="curator"
    )
    store.replace_excluded_tracks(load_serving_exclusions(conn, settings.ai).withheld())
    after = answers.read_user_mixes(engine, store, user, NO_EXCLUSIONS)["mixes"]
    assert victim not in {t["track_id"] for m in after for t in m["tracks"]}
    assert len(after[0]["tracks"]) < len(before[0]["tracks"])
    conn.close()
    store.close()


def test_erasure_is_not_undone_by_the_next_rebuild(
    tmp_path: Path, world: tuple[Path, dict[str, Any]]
) -> None:
    settings = _settings(tmp_path)
    trusted_rebuild(settings, world[0], NOW, progress=_quiet, workers=1)
    conn = open_engine_state(settings.state_dir)
    engine = load_engine(conn, settings.state_dir, settings, NOW)
    user = next(iter(engine.history.users.ids))
    store = open_store(settings)
    removed = erase_user(conn, settings.state_dir, store, user, actor="ada", role="admin", now=NOW)
    assert removed["history"] == 1 and removed["model_factors"] == 1
    assert store.read_user(user) is None
    conn.close()
    trusted_rebuild(settings, world[0], LATER, progress=_quiet, workers=1)
    assert store.read_user(user) is None
    conn = open_engine_state(settings.state_dir)
    engine = load_engine(conn, settings.state_dir, settings, LATER)
    assert user not in engine.history.users
    assert engine.context.model is not None and user not in engine.context.model.users
    assert user not in engine.known_users()
    version = engine.context.model.version
    assert user not in load_history(settings.state_dir / "models" / version).users
    conn.close()
    store.close()


def personal_reasons(answer: dict[str, Any]) -> list[str]:
    """Reasons only a listener's own data gives (their plays, their follows)."""
    personal = {"history", "followed_artist"}
    return [
        t["reason"]["type"]
        for m in answer["mixes"]
        for t in m["tracks"]
        if t["reason"]["type"] in personal
    ]


def test_an_erased_user_restored_into_the_store_is_not_served(
    tmp_path: Path, world: tuple[Path, dict[str, Any]]
) -> None:
    """A store restored from a snapshot taken before an erasure holds the user's mixes again;
    reads check the tombstones and answer as for a stranger instead."""
    settings = _settings(tmp_path)
    trusted_rebuild(settings, world[0], NOW, progress=_quiet, workers=1)
    conn = open_engine_state(settings.state_dir)
    engine = load_engine(conn, settings.state_dir, settings, NOW)
    store = open_store(settings)
    user = next(
        u
        for u in engine.history.users.ids
        if personal_reasons(answers.read_user_mixes(engine, store, u, NO_EXCLUSIONS))
    )
    payload = store.read_user(user)
    version = store.current_version()
    assert payload is not None and version is not None
    erase_user(conn, settings.state_dir, store, user, actor="ada", role="admin", now=NOW)
    writer = store.begin(version)  # the "restore": the old payload back in the current version
    writer.put_many([(user, payload)])
    assert store.read_user(user) == payload
    engine = load_engine(conn, settings.state_dir, settings, NOW)
    answer = answers.read_user_mixes(engine, store, user, NO_EXCLUSIONS)
    assert answer["mixes"] and not personal_reasons(answer)
    conn.close()
    store.close()


def test_only_the_current_model_stays_on_disk(
    tmp_path: Path, world: tuple[Path, dict[str, Any]]
) -> None:
    settings = _settings(tmp_path)
    settings = replace(settings, als=replace(settings.als, iterations=5))
    first = trusted_rebuild(settings, world[0], NOW, progress=_quiet, workers=1)
    changed = replace(settings, als=replace(settings.als, iterations=6))
    second = trusted_rebuild(changed, world[0], LATER, progress=_quiet, workers=1)
    assert first["model"]["version"] != second["model"]["version"]
    kept = sorted(p.name for p in (settings.state_dir / "models").iterdir())
    assert kept == [second["model"]["version"]]


def test_stored_mixes_served_as_stored_equal_what_the_final_filter_gives(
    tmp_path: Path, world: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that finds nothing to remove returns the stored mixes as they are; that must be
    exactly what hydrating them from the pool and filtering them would give."""
    settings = _settings(tmp_path)
    trusted_rebuild(settings, world[0], NOW, progress=_quiet, workers=1)
    conn = open_engine_state(settings.state_dir)
    engine = load_engine(conn, settings.state_dir, settings, NOW)
    conn.close()
    store = open_store(settings)
    users = engine.known_users()[::7]
    as_stored = [answers.read_user_mixes(engine, store, u, NO_EXCLUSIONS) for u in users]
    radars = [answers.read_release_radar(engine, store, u, NO_EXCLUSIONS) for u in users]
    monkeypatch.setattr(answers, "_servable_as_stored", lambda *args: False)
    assert as_stored == [answers.read_user_mixes(engine, store, u, NO_EXCLUSIONS) for u in users]
    assert radars == [answers.read_release_radar(engine, store, u, NO_EXCLUSIONS) for u in users]
    store.close()


@pytest.mark.parametrize(("users", "workers"), [(0, 2), (1, 1), (300, 2), (100_000, 2), (7_777, 3)])
def test_chunks_cover_every_user_once_and_shrink_towards_the_end(users: int, workers: int) -> None:
    bounds = chunk_bounds(users, workers)
    covered = [user for start, stop in bounds for user in range(start, stop)]
    assert covered == list(range(users))
    sizes = [stop - start for start, stop in bounds]
    assert all(size <= MAX_CHUNK_USERS for size in sizes)
    assert all(size >= MIN_CHUNK_USERS for size in sizes[:-1])
    assert sizes == sorted(sizes, reverse=True)


def test_compiling_side_by_side_runs_one_half_in_a_forked_child(tmp_path: Path) -> None:
    """The first rebuild compiles the generators here and the payload assembly in a child,
    one on each core; each half runs exactly once, the second in another process."""

    def mark(name: str) -> None:
        (tmp_path / f"{name}-{os.getpid()}").write_text("")

    compile_side_by_side(lambda: mark("here"), lambda: mark("there"))
    marks = sorted(p.name for p in tmp_path.iterdir())
    assert len(marks) == 2
    assert f"here-{os.getpid()}" in marks
    assert any(m.startswith("there-") and m != f"there-{os.getpid()}" for m in marks)


def test_a_cold_preparation_generates_as_a_warm_one(tmp_path: Path) -> None:
    """``prepare_generation(cold=True)`` (the first run after an install: half compiled in a
    child) gives generators and an encoder that make the same payloads."""
    world = train_world(tmp_path, users=80, artists=20, seed=4)
    users = [world.engine.listener(u) for u in world.engine.known_users()]
    payloads = []
    for cold in (False, True):
        generation = prepare_generation(world.engine, cold=cold)
        bases = [listener_basis(world.engine, user) for user in users]
        chunk = generation.generator.run(users)
        payloads.append(generation.encoder.encode(chunk, bases).payloads)
    assert payloads[0] == payloads[1] and any(payloads[0])
