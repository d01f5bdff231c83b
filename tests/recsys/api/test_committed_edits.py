"""A staff edit that committed answers success, even when the mix store does not answer.

The state is the source of truth: a flag, review or link edit is in force (and audited) once
its transaction committed, and the live engine serves it at once. Only the store's copy of
the withheld tracks lags, and the engine catches it up at its next check. Answering 503 there
made clients retry an edit that was made, doubling flags and audit records; the answer now
says ``"store_sync": "pending"``. An erasure whose store copy is left still answers 503
(nothing removes that copy by itself; see ``recsys.api.routes_users``).

The store is a real ``RedisStore`` on a port nobody listens on, or, where it must come back,
the in-memory ``FlakyStore`` of ``test_app``.
"""

from __future__ import annotations

import socket
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from recsys.api import create_app
from recsys.store.base import MixStore
from recsys.store.embedded import EmbeddedStore
from recsys.store.redis_store import RedisSettings, RedisStore
from tests.recsys.api.test_app import FlakyStore
from tests.recsys.api.world import NOW, RebuiltWorld, bearer, copy_state, make_tokens, settings_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

USER = "u0000001"
FAST = RedisSettings(
    connect_timeout_s=0.2, socket_timeout_s=0.3, retries=1, backoff_base_s=0.01, backoff_cap_s=0.05
)


def closed_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


@dataclass
class Served:
    state: Path
    tokens: dict[str, str]
    app: FastAPI
    client: TestClient

    def headers(self, role: str) -> dict[str, str]:
        return bearer(self.tokens[role])

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.state / "state.sqlite3")
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def audit(self) -> list[tuple[Any, ...]]:
        return self.rows("SELECT actor, action, result FROM audit_log ORDER BY id")


@pytest.fixture
def serve(
    rebuilt_world: RebuiltWorld, tmp_path: Path
) -> Iterator[Callable[[Callable[[Path], MixStore]], Served]]:
    """The app over a copied state, with the store ``store_for(state)``."""
    made: list[Served] = []

    def make(store_for: Callable[[Path], MixStore]) -> Served:
        state = copy_state(rebuilt_world, tmp_path / f"state-{len(made)}")
        tokens = make_tokens(state)
        store = store_for(state)
        app = create_app(
            settings_for(state), lambda: NOW, store=store, check_interval_s=0.0, store_cooldown_s=0
        )
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        served = Served(state, tokens, app, client)
        made.append(served)
        return served

    yield make
    for served in made:
        served.client.__exit__(None, None, None)


@pytest.fixture
def dead_redis(serve: Callable[[Callable[[Path], MixStore]], Served]) -> Served:
    """The app over a Redis that refuses every connection (nothing listens on its port)."""
    return serve(lambda state: RedisStore(f"redis://127.0.0.1:{closed_port()}/0", FAST))


def _pair(served: Served) -> tuple[str, str]:
    a, b = sorted(served.app.state.services.live.engine.context.graph.nodes)[:2]
    return str(a), str(b)


def _track(served: Served) -> str:
    return str(min(served.app.state.services.live.engine.context.catalog.tracks))


def test_committed_edits_answer_success_with_the_store_sync_pending(dead_redis: Served) -> None:
    """Each edit that syncs the store: success, "pending", exactly one audit record, one row."""
    served, client = dead_redis, dead_redis.client
    a, b = _pair(served)
    track = _track(served)
    link = {"artist_a": a, "artist_b": b, "kind": "block", "note": "not alike"}
    flag = {"track_id": track, "source": "detector", "score": 0.99, "note": "weekly scan"}
    review = {"decision": "exclude", "note": "an AI voice"}
    calls: list[tuple[str, str, dict[str, Any] | None, str, str]] = [
        ("POST", "/v1/curation/links", link, "curator", "links.block"),
        ("DELETE", f"/v1/curation/links/{a}/{b}", None, "curator", "links.remove"),
        ("POST", "/v1/flags", flag, "trust", "flags.add"),
        ("POST", f"/v1/review/{track}", review, "curator", "flags.review"),
    ]
    for method, path, body, role, action in calls:
        before = served.audit()
        answer = client.request(method, path, json=body, headers=served.headers(role))
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["store_sync"] == "pending", answer.text
        after = served.audit()
        assert after[: len(before)] == before
        assert after[len(before) :] == [(f"test-{role}", action, "ok")], path
    # The flag is recorded once and in force now, store or no store.
    assert served.rows("SELECT COUNT(*) FROM ai_flags WHERE track_id = ?", track) == [(1,)]
    assert track in served.app.state.services.live.engine.gate.exclusions.withheld()


def test_exclusions_never_wait_on_the_store(dead_redis: Served) -> None:
    """Exclusions are read fresh from the state per request: no store sync to be pending."""
    served, client = dead_redis, dead_redis.client
    path = f"/v1/users/{USER}/exclusions"
    added = client.post(path, json={"kind": "track", "id": "tr1"}, headers=served.headers("app"))
    assert added.status_code == 200, added.text
    lifted = client.delete(f"{path}/track/tr1", headers=served.headers("app"))
    assert lifted.status_code == 200, lifted.text


def test_an_erasure_whose_store_copy_is_left_still_answers_503(dead_redis: Served) -> None:
    """Unlike a flag, nothing removes the user's stored mixes by itself: the caller must
    repeat the erasure, and is told so (the tombstone and its record are committed)."""
    served = dead_redis
    before = served.audit()
    answer = served.client.delete(f"/v1/users/{USER}", headers=served.headers("admin"))
    assert answer.status_code == 503 and answer.json()["error"] == "store_unavailable"
    assert served.audit()[len(before) :] == [("test-admin", "users.erase", "ok")]


def test_the_store_catches_up_once_it_answers_again(
    serve: Callable[[Callable[[Path], MixStore]], Served],
) -> None:
    flakies: list[FlakyStore] = []

    def flaky_over(state: Path) -> MixStore:
        flakies.append(FlakyStore(EmbeddedStore(state)))
        return flakies[-1]

    served = serve(flaky_over)
    flaky = flakies[0]
    track = _track(served)
    flaky.down = True
    flag = {"track_id": track, "source": "detector", "score": 0.99}
    answer = served.client.post("/v1/flags", json=flag, headers=served.headers("trust"))
    assert answer.status_code == 200 and answer.json()["store_sync"] == "pending", answer.text
    assert answer.json()["withheld_now"] is True
    assert track not in flaky.inner.excluded_among([track])
    flaky.down = False
    deadline = time.monotonic() + 10
    while track not in flaky.inner.excluded_among([track]):  # the next check tells the store
        assert time.monotonic() < deadline, "the store never caught up with the flag"
        served.client.get("/healthz")
        time.sleep(0.05)
    again = served.client.post("/v1/flags", json=flag, headers=served.headers("trust"))
    assert again.status_code == 200 and again.json()["store_sync"] == "done", again.text
