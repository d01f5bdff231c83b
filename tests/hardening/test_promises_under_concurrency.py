"""Trust and erasure while a rebuild runs: each promise with the other actor arriving at each
stage of a real rebuild (issue 13, items 1, 2, 4, 6 and 7).

The other actor (an erasure, a flag) is injected by the rebuild's own stage hook, which calls
it just before the named stage starts, or by the progress callback between two chunks of
generation: deterministic points of a real run, no sleeps.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pool.errors import PoolShrinkError
from pool.importer import POOL_POINTER
from pool.model import AiFlag
from pool.state import add_flag, get_pointer, list_trust, load_registry
from pool.trust_import import import_trust_files
from recsys.errors import RecsysError, UserErasedError
from recsys.jobs.rebuild import run_rebuild
from recsys.listening.history import load_history
from recsys.payload.codec import decode_user
from recsys.settings import Settings
from recsys.state.privacy import erase_user
from recsys.state.schema import open_engine_state
from recsys.state.user_feeds import UserExclusion
from recsys.state.users import import_user_feeds, set_exclusion
from recsys.store.factory import open_store
from recsys.training.run import MODEL_POINTER, MODELS_DIR, load_current_model
from recsys.world import WorldConfig, generate_world
from tests.conftest import REDIS_URL, empty_redis_db
from tests.factories import grant_trust
from tests.recsys.api.world import NOW, TODAY, settings_for
from tests.recsys.cli_runner import run_cli
from tests.staff import INJECTION_POINTS


@dataclass(frozen=True)
class World:
    data: Path
    truth: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("promises-world")
    # More than one chunk of generation (chunks hold at least 256 listeners).
    generate_world(root / "data", WorldConfig(users=420, artists=40, seed=21, today=TODAY))
    return World(root / "data", json.loads((root / "data.truth.json").read_text()))


def _quiet(done: int, total: int) -> None:
    pass


def _first_listener(world: World) -> str:
    """A listener with plays, whose id sorts first (so it is in the first chunk)."""
    users: set[str] = set()
    for part in sorted((world.data / "listens").glob("*.csv")):
        with part.open() as handle:
            next(handle)
            users.update(line.split(",", 1)[0] for line in handle)
    bots = {u for group in world.truth["bot_user_ids"].values() for u in group}
    optouts = set(world.truth["optout_user_ids"])
    return min(u for u in users if u not in bots | optouts)


def _erase(settings: Settings, user: str) -> None:
    """An admin's erasure, from a connection of its own (as the API or CLI would)."""
    conn = open_engine_state(settings.state_dir)
    store = open_store(settings)
    try:
        erase_user(conn, settings.state_dir, store, user, actor="ada", role="admin", now=NOW)
    finally:
        store.close()
        conn.close()


def _rebuild(
    settings: Settings,
    data: Path,
    *,
    hook: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] = _quiet,
    **options: Any,
) -> dict[str, Any]:
    grant_trust(settings.state_dir, data)
    return run_rebuild(
        settings, data, NOW, progress=progress, workers=1, stage_hook=hook, **options
    )


def _stored_payload(settings: Settings, user: str) -> bytes | None:
    store = open_store(settings)
    try:
        return store.read_user(user)
    finally:
        store.close()


def _model_users(settings: Settings) -> tuple[set[str], set[str]]:
    conn = open_engine_state(settings.state_dir)
    try:
        model = load_current_model(conn, settings.state_dir)
        version = get_pointer(conn, MODEL_POINTER)
    finally:
        conn.close()
    history = load_history(settings.state_dir / MODELS_DIR / str(version))
    return set(model.users.ids), set(history.users.ids)


def _erasure_at(stage: str, settings: Settings, user: str) -> dict[str, Any]:
    calls: list[str] = []

    def hook(name: str) -> None:
        if name == stage and not calls:
            calls.append(name)
            _erase(settings, user)

    def progress(done: int, total: int) -> None:
        if stage == "generate" and not calls and done < total:
            calls.append("generate")
            _erase(settings, user)

    return {"hook": hook, "progress": progress, "calls": calls}


@pytest.mark.slow
@pytest.mark.parametrize("stage", INJECTION_POINTS)
def test_an_erasure_at_any_stage_of_a_rebuild_is_never_undone(
    world: World, tmp_path: Path, stage: str
) -> None:
    settings = settings_for(tmp_path / "state")
    user = _first_listener(world)
    _rebuild(settings, world.data)  # the user is served personal mixes before
    assert _stored_payload(settings, user) is not None
    actor = _erasure_at(stage, settings, user)
    summary = _rebuild(settings, world.data, hook=actor["hook"], progress=actor["progress"])
    assert actor["calls"] == [stage], "the erasure was not injected"
    assert _stored_payload(settings, user) is None
    model_users, history_users = _model_users(settings)
    assert user not in model_users
    assert user not in history_users
    # Anyone erased after the run read its tombstones is counted at the switch; an erasure
    # at the pool stage came after that read too.
    assert summary["generation"]["users_erased_during_run"] in (0, 1)
    # A listener the run did not touch is still served.
    other = sorted(model_users)[0]
    assert _stored_payload(settings, other) is not None


@pytest.mark.slow
def test_an_erasure_during_generation_is_honoured_in_redis_too(
    world: World, tmp_path: Path
) -> None:
    with empty_redis_db(REDIS_URL) as url:
        settings = settings_for(tmp_path / "state", url)
        user = _first_listener(world)
        actor = _erasure_at("generate", settings, user)
        summary = _rebuild(settings, world.data, hook=actor["hook"], progress=actor["progress"])
        assert actor["calls"] == ["generate"]
        assert summary["generation"]["users_erased_during_run"] == 1
        assert _stored_payload(settings, user) is None
        assert user not in _model_users(settings)[0]


def test_nothing_keyed_by_an_erased_user_is_stored_again(world: World, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "state")
    user = _first_listener(world)
    _rebuild(settings, world.data)
    _erase(settings, user)
    conn = open_engine_state(settings.state_dir)
    try:
        with pytest.raises(UserErasedError, match="erased"):
            set_exclusion(conn, UserExclusion(user, "artist", "ar000001"), active=True, now=NOW)
        # An old export naming them brings nothing back either.
        import_user_feeds(
            conn, [user], [UserExclusion(user, "track", "t1")], {user: frozenset({"a"})}, NOW
        )
        for table in ("user_optouts", "user_exclusions", "user_follows"):
            rows = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (user,))
            assert rows.fetchone()[0] == 0, table
    finally:
        conn.close()
    # And the next rebuild stores nothing under the raw id.
    _rebuild(settings, world.data)
    assert _stored_payload(settings, user) is None


@pytest.mark.slow
def test_a_flag_made_after_the_load_stage_survives_the_switch(world: World, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "state")
    _rebuild(settings, world.data)
    store = open_store(settings)
    try:
        payload = store.read_user(_first_listener(world))
        assert payload is not None
        track = decode_user(payload)["mixes"][0]["tracks"][0]["track_id"]
    finally:
        store.close()

    def flag_it(stage: str) -> None:
        if stage == "prepare":  # after the load stage read what is withheld
            conn = open_engine_state(settings.state_dir)
            try:
                add_flag(
                    conn, AiFlag(track, "detector", 0.99, NOW), by="det", why="x", role="trust"
                )
            finally:
                conn.close()

    _rebuild(settings, world.data, hook=flag_it)
    store = open_store(settings)
    try:
        assert store.excluded_among([track]) == {track}
    finally:
        store.close()


def _without_listens(world: World, root: Path) -> Path:
    data = root / "no-listens"
    shutil.copytree(world.data, data)
    for part in (data / "listens").glob("*.csv"):
        part.write_text("user_id,track_id,played_at,ms_played,plays\n")
    return data


def _pointers(settings: Settings) -> tuple[str | None, str | None]:
    conn = open_engine_state(settings.state_dir)
    try:
        return get_pointer(conn, POOL_POINTER), get_pointer(conn, MODEL_POINTER)
    finally:
        conn.close()


def _halved_catalog(world: World, root: Path) -> Path:
    data = root / "halved"
    shutil.copytree(world.data, data)
    tracks = data / "catalog" / "tracks.jsonl"
    lines = tracks.read_text().splitlines(keepends=True)
    tracks.write_text("".join(lines[: len(lines) // 2]))
    return data


@pytest.mark.slow
def test_a_failed_rebuild_moves_no_pointer_and_leaves_no_model(
    world: World, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "state")
    _rebuild(settings, world.data)
    before = _pointers(settings)
    version = open_store(settings).current_version()
    models = sorted(p.name for p in (settings.state_dir / MODELS_DIR).iterdir())
    # A smaller catalog and no listens: the pool stage succeeds, training fails.
    data = _halved_catalog(world, tmp_path)
    for part in (data / "listens").glob("*.csv"):
        part.write_text("user_id,track_id,played_at,ms_played,plays\n")
    with pytest.raises(RecsysError, match="no listens"):
        _rebuild(settings, data, allow_shrink=True)
    assert _pointers(settings) == before
    assert open_store(settings).current_version() == version
    assert sorted(p.name for p in (settings.state_dir / MODELS_DIR).iterdir()) == models


def test_a_pool_that_would_shrink_too_much_is_refused_naming_the_figures(
    world: World, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    grant_trust(state, world.data)
    assert run_cli("pool", "build", "--data", world.data, state_dir=state).code == 0
    conn = open_engine_state(state)
    try:
        before = get_pointer(conn, POOL_POINTER)
    finally:
        conn.close()
    halved = _halved_catalog(world, tmp_path)
    # A rebuild refuses at its pool stage, before training, and changes nothing either.
    with pytest.raises(PoolShrinkError, match="--allow-shrink"):
        _rebuild(settings_for(state), halved)
    refused = run_cli("pool", "build", "--data", halved, state_dir=state)
    assert refused.code == 1
    assert "fewer than the current pool's" in refused.err
    assert "--allow-shrink" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    conn = open_engine_state(state)
    try:
        assert get_pointer(conn, POOL_POINTER) == before
    finally:
        conn.close()
    allowed = run_cli("pool", "build", "--data", halved, "--allow-shrink", state_dir=state)
    assert allowed.code == 0, allowed.err


def test_a_data_directory_never_grants_trust_on_its_own(world: World, tmp_path: Path) -> None:
    state = tmp_path / "state"
    # No staff import: a pool build reads only the (empty) registry, and admits nothing.
    built = run_cli("pool", "build", "--data", world.data, "--json", state_dir=state)
    assert built.code == 0, built.err
    assert json.loads(built.out)["admitted"] == 0
    # The staff import grants, each grant under the staff member's name with its own record.
    conn = open_engine_state(state)
    try:
        result = import_trust_files(conn, world.data, by="tina", why="delivery 1", now=NOW)
        granted = len(result.granted)
        assert granted > 0
        rows = list_trust(conn)
        assert {r["by"] for r in rows} == {"tina"}
        records = conn.execute(
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'trust.grant_%' AND actor = 'tina'"
        ).fetchone()[0]
        assert records == granted
        verified = load_registry(conn).verified_artists
    finally:
        conn.close()
    # An id appended to the file later is not granted by the next pool build or rebuild.
    with (world.data / "trust" / "artists.csv").open() as handle:
        assert "ar_appended" not in handle.read()
    data = tmp_path / "appended"
    shutil.copytree(world.data, data)
    with (data / "trust" / "artists.csv").open("a") as handle:
        handle.write("ar_appended,mallory,2026-11-01T00:00:00Z\n")
    assert run_cli("pool", "build", "--data", data, state_dir=state).code == 0
    conn = open_engine_state(state)
    try:
        assert load_registry(conn).verified_artists == verified
    finally:
        conn.close()
