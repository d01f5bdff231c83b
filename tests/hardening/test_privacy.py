"""Privacy (SPEC section 1, invariant 5): erasure leaves nothing, opt-outs never reach
training, logs carry no raw user ids.

Erasure is checked by scanning, not by asking the code that erased: every byte of every file
under the state folder (SQLite databases table by table *and* as raw bytes, so deleted rows
left in free pages or in a WAL count; the arrays inside ``.npz`` files in each encoding NumPy
may store text in), every key and value of the Redis database, and the server's in-memory
engine and response cache. The only trace an erased user may leave is the keyed-hash
tombstone, which must not hold the id itself.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
import zstandard
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from uvicorn.logging import AccessFormatter

from pool.state import transaction
from recsys.api import create_app
from recsys.cli.logging_setup import UVICORN_LOGGERS, redact_user_ids
from recsys.engine.loading import load_engine
from recsys.jobs.rebuild import generate_user
from recsys.listening.history import load_history
from recsys.payload.codec import decode_user
from recsys.serving import answers
from recsys.state.privacy import erase_user, hash_user, user_hash_key
from recsys.state.schema import open_engine_state
from recsys.state.user_feeds import UserExclusion
from recsys.state.users import set_exclusion
from recsys.store.factory import open_store
from recsys.training.run import MODELS_DIR, load_current_model
from recsys.world import WorldConfig, generate_world
from tests.factories import grant_trust
from tests.recsys.api.read_checks import track_ids
from tests.recsys.api.world import (
    NOW,
    TODAY,
    bearer,
    free_port,
    make_tokens,
    settings_for,
    stop_server,
)
from tests.recsys.cli_runner import run_cli
from tests.staff import trusted_rebuild, trusted_training

with warnings.catch_warnings():
    # Starlette asks for httpx2 behind its TestClient; httpx is what this project installs.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

LATER = NOW + timedelta(days=1)
NEVER_SEEN = "listener-never-seen"
# Reasons that come from the listener's own data; cold-start mixes have none of them.
PERSONAL_REASONS = frozenset({"history", "followed_artist"})
# A world's user ids ("u" and at least seven digits), standing alone.
RAW_USER_ID = re.compile(r"(?<![0-9A-Za-z])u\d{7,}(?![0-9])")
EXCLUDED_ARTIST = "ar000001"


@dataclass(frozen=True)
class World:
    data: Path
    truth: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A small world with listeners, follows, opt-outs and exclusions (generated once)."""
    root = tmp_path_factory.mktemp("privacy-world")
    generate_world(root / "data", WorldConfig(users=160, artists=30, seed=5, today=TODAY))
    return World(root / "data", json.loads((root / "data.truth.json").read_text()))


def _quiet(done: int, total: int) -> None:
    pass


def rebuild_into_both_stores(state: Path, data: Path, redis_url: str, now: Any) -> dict[str, Any]:
    """The cron job into the embedded store, then into Redis, over one state: the state folder
    keeps the embedded store's file whichever store serves (a deployment that moved)."""
    summary: dict[str, Any] = {}
    for url in ("embedded", redis_url):
        summary = trusted_rebuild(settings_for(state, url), data, now, progress=_quiet, workers=1)
    return summary


# --- the scanner -------------------------------------------------------------------------


def id_forms(user_id: str) -> tuple[bytes, ...]:
    """The id as bytes in every encoding it may be stored in: UTF-8 (SQLite, JSON, Redis) and
    UTF-16/UTF-32 (NumPy's fixed-width unicode arrays are UTF-32)."""
    return tuple(user_id.encode(codec) for codec in ("utf-8", "utf-16-le", "utf-32-le"))


def places_in_bytes(where: str, data: bytes, forms: Sequence[bytes]) -> list[str]:
    """``where`` if ``data`` holds the id, looking inside zip archives (``.npz``), zstd
    frames (stored mix payloads) and zlib streams (payloads of earlier versions) too, since
    compressed bytes hide it."""
    found = [where] if any(form in data for form in forms) else []
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                found += places_in_bytes(f"{where}!{member}", archive.read(member), forms)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        try:
            inflated = zstandard.ZstdDecompressor().decompress(data)
        except zstandard.ZstdError:
            pass
        else:
            found += places_in_bytes(f"{where} (zstd)", inflated, forms)
    elif data[:1] == b"\x78":
        try:
            inflated = zlib.decompress(data)
        except zlib.error:
            pass
        else:
            found += places_in_bytes(f"{where} (inflated)", inflated, forms)
    return found


def places_in_sqlite(path: Path, forms: Sequence[bytes]) -> list[str]:
    """Every table and column of a SQLite database whose values hold the id."""
    found: set[str] = set()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    raw = value.encode() if isinstance(value, str) else value
                    if isinstance(raw, bytes) and places_in_bytes("", raw, forms):
                        found.add(f"{path.name}: {table}.{column}")
    finally:
        conn.close()
    return sorted(found)


def places_in_redis(url: str, forms: Sequence[bytes]) -> list[str]:
    """Every key of the Redis database whose name or value holds the id."""
    found = []
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(count=1000):
            kind_name = client.type(key)
            kind = kind_name.decode() if isinstance(kind_name, bytes) else str(kind_name)
            values: list[Any] = [key]
            if kind == "string":
                values.append(client.get(key))
            elif kind == "hash":
                values += [part for item in client.hgetall(key).items() for part in item]
            elif kind == "set":
                values += list(client.smembers(key))
            elif kind == "list":
                values += client.lrange(key, 0, -1)
            elif kind == "zset":
                values += client.zrange(key, 0, -1)
            else:
                values.append(client.dump(key))
            raw = [v if isinstance(v, bytes) else str(v).encode() for v in values if v]
            if any(places_in_bytes("", value, forms) for value in raw):
                found.append(f"redis {bytes(key).decode(errors='replace')}")
    finally:
        client.close()
    return found


def places_holding(user_id: str, state: Path, redis_url: str | None) -> list[str]:
    """Everywhere the raw id is stored: the files under ``state`` and the Redis database."""
    forms = id_forms(user_id)
    files = sorted(p for p in state.rglob("*") if p.is_file())
    found = []
    # Raw bytes first: opening a database for its tables below may checkpoint its WAL.
    for path in files:
        found += places_in_bytes(str(path.relative_to(state)), path.read_bytes(), forms)
    for path in files:
        if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00":
            found += places_in_sqlite(path, forms)
    if redis_url is not None:
        found += places_in_redis(redis_url, forms)
    return found


def assert_found_in(places: list[str], expected: Sequence[str]) -> None:
    """The scanner sees the user where they are before erasure (so it can see a leak)."""
    for part in expected:
        assert any(part in place for place in places), (part, places)


def tombstone(state: Path, user_id: str) -> tuple[str, list[str]]:
    """The user's keyed hash and every tombstone in the state."""
    conn = open_engine_state(state)
    try:
        key = user_hash_key(conn, NOW)
        hashes = [r[0] for r in conn.execute("SELECT user_hash FROM user_tombstones")]
    finally:
        conn.close()
    return hash_user(key, user_id), hashes


def current_model_rows(state: Path) -> tuple[list[str], np.ndarray, int]:
    """The current model's user index, its factor rows and its tag-profile row count."""
    conn = open_engine_state(state)
    try:
        model = load_current_model(conn, state)
    finally:
        conn.close()
    return list(model.users.ids), model.user_factors, model.user_tag_profiles.shape[0]


def factor_row(state: Path, user_id: str) -> np.ndarray:
    users, factors, _ = current_model_rows(state)
    return np.array(factors[users.index(user_id)], copy=True)


def assert_no_factor_row(state: Path, user_id: str, row: np.ndarray) -> None:
    """No row for the user in the index, no orphan row, and the vector itself is gone."""
    users, factors, profiles = current_model_rows(state)
    assert user_id not in users
    assert factors.shape[0] == len(users) == profiles
    assert not np.any(np.all(np.isclose(factors, row, rtol=0, atol=1e-7), axis=1))


def listeners_with_follows(state: Path, data: Path) -> list[str]:
    """Users with a model row, a listening history and follows: present in every store."""
    users, _, _ = current_model_rows(state)
    with (data / "follows.csv").open() as handle:
        followers = {row["user_id"] for row in csv.DictReader(handle)}
    return sorted(set(users) & followers)


def reason_types(body: dict[str, Any]) -> set[str]:
    return {t["reason"]["type"] for m in body["mixes"] for t in m["tracks"]}


# Where a listener with follows, a history and stored mixes is, before erasure.
LISTENER_PLACES = (
    "state.sqlite3: user_follows.user_id",
    "state.sqlite3: user_exclusions.user_id",
    "mixes.sqlite3: user_payloads.user_id",
    "model.npz!user_ids.npy",
    "history.npz!users.npy",
    "redis recsys:mixes:",
)


# --- 1. erasure --------------------------------------------------------------------------


def _cached_users(app: FastAPI) -> set[str]:
    """Users whose rendered answers the server keeps in memory (its response caches)."""
    reads = app.state.reads
    keys = [*reads._stored._entries, *reads._radios._entries]
    return {part for key in keys for part in key if isinstance(part, str)}


def _erase_through_the_api(state: Path, redis_url: str, user: str) -> None:
    """As the app would: an exclusion, the listener's read (now cached), then DELETE by an
    admin; scanned while the server still runs (its open databases and WALs count)."""
    tokens = make_tokens(state)
    app = create_app(settings_for(state, redis_url), lambda: NOW)
    with TestClient(app) as client:
        exclusion = {"kind": "artist", "id": EXCLUDED_ARTIST}
        added = client.post(
            f"/v1/users/{user}/exclusions", json=exclusion, headers=bearer(tokens["app"])
        )
        assert added.status_code == 200, added.text
        before = client.get(f"/v1/users/{user}/mixes").json()
        assert PERSONAL_REASONS & reason_types(before)
        assert user in _cached_users(app)
        assert_found_in(places_holding(user, state, redis_url), LISTENER_PLACES)

        erased = client.delete(f"/v1/users/{user}", headers=bearer(tokens["admin"]))
        assert erased.status_code == 200, erased.text
        assert user not in _cached_users(app)
        engine = app.state.services.live.engine
        assert user not in engine.history.users and user not in engine.known_users()
        assert engine.context.model is not None and user not in engine.context.model.users
        assert places_holding(user, state, redis_url) == []

        after = client.get(f"/v1/users/{user}/mixes").json()
        cold = client.get(f"/v1/users/{NEVER_SEEN}/mixes").json()
        assert after != before and not PERSONAL_REASONS & reason_types(after)
        assert track_ids(after) == track_ids(cold)


def _erase_through_the_function(
    state: Path, redis_url: str, expected: dict[str, Sequence[str]]
) -> None:
    """``recsys.state.privacy.erase_user``, as an operator's script would call it."""
    settings = settings_for(state, redis_url)
    conn = open_engine_state(state)
    store = open_store(settings)
    try:
        for user, places in expected.items():
            with transaction(conn):
                exclusion = UserExclusion(user, "artist", EXCLUDED_ARTIST)
                set_exclusion(conn, exclusion, active=True, now=NOW)
            assert_found_in(places_holding(user, state, redis_url), places)
            erase_user(conn, state, store, user, actor="ada", role="admin", now=NOW)
    finally:
        store.close()
        conn.close()


@pytest.mark.redis
@pytest.mark.parametrize("path", ["api", "function"])
def test_an_erased_user_is_in_no_store_file_cache_or_model_and_stays_erased(
    world: World, tmp_path: Path, redis_url: str, path: str
) -> None:
    state = tmp_path / "state"
    rebuild_into_both_stores(state, world.data, redis_url, NOW)
    listener = listeners_with_follows(state, world.data)[0]
    row = factor_row(state, listener)
    if path == "api":
        users = [listener]
        _erase_through_the_api(state, redis_url, listener)
    else:
        # An opted-out user too: no model row, but an opt-out row and stored mixes.
        opted_out = sorted(world.truth["optout_user_ids"])[0]
        users = [listener, opted_out]
        opted_out_places = ("state.sqlite3: user_optouts.user_id", "mixes.sqlite3", "redis ")
        _erase_through_the_function(
            state, redis_url, {listener: LISTENER_PLACES, opted_out: opted_out_places}
        )

    for user in users:
        assert places_holding(user, state, redis_url) == [], user
        user_hash, tombstones = tombstone(state, user)
        assert user_hash in tombstones and user not in user_hash
    assert_no_factor_row(state, listener, row)

    # The data directory still holds their listens, follows and opt-out: the tombstone keeps
    # the next rebuild (into both stores) from bringing them back.
    summary = rebuild_into_both_stores(state, world.data, redis_url, LATER)
    for user in users:
        assert places_holding(user, state, redis_url) == [], user
    assert_no_factor_row(state, listener, row)
    assert summary["listens"]["erased_rows"] > 0  # their listens were read, and refused


# --- 2. opt-outs -------------------------------------------------------------------------


def _listen_rows(data: Path, users: set[str]) -> int:
    rows = 0
    for part in sorted((data / "listens").glob("*.csv")):
        with part.open() as handle:
            rows += sum(row["user_id"] in users for row in csv.DictReader(handle))
    return rows


def test_opted_out_listens_never_reach_training_and_their_mixes_are_not_personal(
    world: World, tmp_path: Path
) -> None:
    opted_out = set(world.truth["optout_user_ids"])
    assert opted_out
    listened = _listen_rows(world.data, opted_out)
    assert listened > 0  # they did listen: the data directory has rows to leave out
    settings = settings_for(tmp_path / "state")
    conn = open_engine_state(settings.state_dir)
    try:
        run = trusted_training(conn, settings.state_dir, world.data, settings, NOW)
        engine = load_engine(conn, settings.state_dir, settings, NOW)
    finally:
        conn.close()

    assert run.listens.opted_out_rows == listened
    # The training matrix's rows are the model's user index, one to one ...
    assert run.plays.shape[0] == len(run.model.users) == run.model.user_factors.shape[0]
    # ... and neither it, the history nor the fraud screen ever saw an opted-out user.
    assert not opted_out & set(run.model.users.ids)
    assert not opted_out & set(run.history.users.ids)
    assert not opted_out & run.flagged_user_ids
    folder = settings.state_dir / MODELS_DIR / run.model.version
    assert not opted_out & set(load_history(folder).users.ids)
    for user in opted_out:
        assert places_holding(user, settings.state_dir / MODELS_DIR, None) == [], user

    anonymous = decode_user(generate_user(engine, NEVER_SEEN)[0])
    seed = sorted(engine.context.graph.nodes)[0]
    for user in sorted(opted_out):
        assert not engine.profile(user).personalised
        stored = decode_user(generate_user(engine, user)[0])  # what the cron job stores
        reasons = {t["reason"]["type"] for m in stored["mixes"] for t in m["tracks"]}
        assert reasons and not reasons & PERSONAL_REASONS
        if user not in engine.exclusions:  # exclusions still apply, and change the tracks
            assert _stored_tracks(stored) == _stored_tracks(anonymous)
        # A radio's shuffle is seeded by the listener's id (not their data), so its order
        # differs from an anonymous radio's; what it must not have is a personal reason.
        radio = answers.artist_radio(engine, seed, user, None)
        assert not {t["reason"]["type"] for t in radio["tracks"]} & PERSONAL_REASONS


def _stored_tracks(document: dict[str, Any]) -> list[list[str]]:
    return [[t["track_id"] for t in m["tracks"]] for m in document["mixes"]]


# --- 3. logs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedWorld:
    state: Path
    rebuild_log: str
    users: list[str]


@pytest.fixture(scope="module")
def served_world(world: World, tmp_path_factory: pytest.TempPathFactory) -> ServedWorld:
    """The world rebuilt by the real cron job command, logging at INFO (-v)."""
    state = tmp_path_factory.mktemp("privacy-served") / "state"
    grant_trust(state, world.data)
    rebuild = run_cli("-v", "rebuild", "--data", world.data, "--workers", "1", state_dir=state)
    assert rebuild.code == 0, rebuild.err
    users = listeners_with_follows(state, world.data)[:4]
    return ServedWorld(state, rebuild.out + rebuild.err, users)


def raw_user_ids(text: str, users: Sequence[str]) -> set[str]:
    """Raw ids in a log: anything shaped like the world's ids, and the given ids anywhere."""
    return set(RAW_USER_ID.findall(text)) | {u for u in users if u in text}


def test_the_rebuild_log_has_no_raw_user_ids(served_world: ServedWorld) -> None:
    log = served_world.rebuild_log
    assert "stage als took" in log and "published" in log  # INFO lines are there ...
    assert raw_user_ids(log, served_world.users) == set()  # ... without a user id


SERVERS = {
    # The command line, which logs requests itself (route template and hashed user).
    "recsys-serve": ["-m", "recsys", "-v", "serve", "--workers", "1"],
    # What each worker of `recsys serve --workers N` runs, here under uvicorn's own logging
    # with its access log on: request lines with the raw path.
    "uvicorn-access-log": [
        "-m",
        "uvicorn",
        "--factory",
        "recsys.cli.serve_commands:worker_app",
        "--log-level",
        "info",
    ],
}


@contextmanager
def serving(command: list[str], state: Path, log_file: Path) -> Iterator[str]:
    """A real server process on a free port; stopped (its log flushed) on leaving."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    environ["RECSYS_STATE_DIR"] = str(state)
    with log_file.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, *command, "--port", str(port)],
            env=environ,
            cwd=state.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, log_file.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        stop_server(server)


@pytest.mark.e2e
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_server_logs_have_no_raw_user_ids(
    served_world: ServedWorld, tmp_path: Path, server: str
) -> None:
    state = shutil.copytree(served_world.state, tmp_path / "state")
    tokens = make_tokens(state)
    users = served_world.users
    log_file = tmp_path / "server.log"
    with serving(SERVERS[server], state, log_file) as base, httpx.Client(base_url=base) as client:
        first = client.get(f"/v1/users/{users[0]}/mixes").json()
        seed = first["mixes"][0]["tracks"][0]["artist_ids"][0]
        for user in users:
            assert client.get(f"/v1/users/{user}/mixes").status_code == 200
            assert client.get(f"/v1/users/{user}/release-radar").status_code == 200
            radio = client.get(f"/v1/radio/artist/{seed}", params={"user_id": user})
            assert radio.status_code == 200
        app, admin = bearer(tokens["app"]), bearer(tokens["admin"])
        exclusion = {"kind": "artist", "id": EXCLUDED_ARTIST}
        path = f"/v1/users/{users[0]}/exclusions"
        assert client.post(path, json=exclusion, headers=app).status_code == 200
        assert client.delete(f"{path}/artist/{EXCLUDED_ARTIST}", headers=app).status_code == 200
        assert client.delete(f"/v1/users/{users[1]}").status_code == 401
        assert client.delete(f"/v1/users/{users[1]}", headers=app).status_code == 403
        assert client.delete(f"/v1/users/{users[1]}", headers=admin).status_code == 200
        assert client.get(f"/v1/users/{users[2]}/nothing-here").status_code == 404
    log = log_file.read_text()

    conn = open_engine_state(state)
    try:
        key = user_hash_key(conn, NOW)
    finally:
        conn.close()
    # No raw id is in the log, nor a traceback ...
    assert raw_user_ids(log, users) == set(), log[-2000:]
    assert "Traceback" not in log
    # ... while the request lines are, naming each listener by hash.
    for user in users[:2]:
        assert hash_user(key, user) in log, (user, log[-2000:])


def test_uvicorn_request_lines_are_hashed_by_the_filter_serve_installs() -> None:
    """The access line as uvicorn writes it (its own formatter unpacks the arguments)."""
    logger = logging.getLogger("uvicorn.access")
    root_handlers = logging.getLogger().handlers
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    saved = (logger.handlers[:], logger.propagate, logger.level)
    # The filter goes on these too; each gets its own filters back afterwards.
    touched = [*root_handlers, *(logging.getLogger(name) for name in UVICORN_LOGGERS)]
    saved_filters = [item.filters[:] for item in touched]
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    try:
        redact_user_ids(lambda user: f"user:#{len(user)}")
        for path in ("/v1/users/u0000042/mixes", "/v1/radio/artist/ar000001?user_id=u0000042"):
            logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    finally:
        logger.handlers, logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
        for item, filters in zip(touched, saved_filters, strict=True):
            item.filters = filters
    assert out.getvalue().splitlines() == [
        '127.0.0.1:5000 - "GET /v1/users/user:#8/mixes HTTP/1.1" 200 OK',
        '127.0.0.1:5000 - "GET /v1/radio/artist/ar000001?user_id=user:#8 HTTP/1.1" 200 OK',
    ]
