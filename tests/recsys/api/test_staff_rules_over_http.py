"""Over HTTP: a write keyed by an erased user is refused (410) and stores nothing; a clear over
a high detector score takes two curators (the first answers "awaiting_second_approval", the
same curator again 409); a clear against the rights holder's flag is refused (409)."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from pool.model import AiFlag
from pool.state import add_flag
from recsys.api.app import create_app
from recsys.state.schema import open_engine_state
from recsys.state.tokens import add_token, ensure_tokens_schema
from tests.recsys.api.world import NOW, RebuiltWorld, bearer, make_tokens, settings_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def served(rebuilt_world: RebuiltWorld, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    state = tmp_path / "state"
    shutil.copytree(rebuilt_world.state, state)
    with TestClient(create_app(settings_for(state), lambda: NOW)) as client:
        yield client, state


def _user_rows(state: Path, user: str) -> int:
    conn = sqlite3.connect(state / "state.sqlite3")
    try:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM user_exclusions WHERE user_id = ?", (user,)
            ).fetchone()[0]
        )
    finally:
        conn.close()


def test_an_exclusion_for_an_erased_user_is_refused_and_stores_nothing(
    served: tuple[TestClient, Path],
) -> None:
    client, state = served
    tokens = make_tokens(state)
    user = "u0000007"
    erased = client.delete(f"/v1/users/{user}", headers=bearer(tokens["admin"]))
    assert erased.status_code == 200, erased.text
    answer = client.post(
        f"/v1/users/{user}/exclusions",
        json={"kind": "artist", "id": "ar000001"},
        headers=bearer(tokens["app"]),
    )
    assert answer.status_code == 410, answer.text
    assert answer.json()["error"] == "erased"
    assert user not in answer.text
    assert _user_rows(state, user) == 0


def test_clearing_a_high_score_takes_two_curators_over_http(
    served: tuple[TestClient, Path],
) -> None:
    client, state = served
    tokens = make_tokens(state)
    conn = open_engine_state(state)
    try:
        ensure_tokens_schema(conn)
        second = add_token(conn, "carl", "curator", by="tests", why="fixture", now=NOW)
        add_flag(conn, AiFlag("tr0000001", "detector", 0.97, NOW), by="d", why="x", role="trust")
        add_flag(conn, AiFlag("tr0000002", "label", 1.0, NOW), by="l", why="x", role="trust")
    finally:
        conn.close()
    client.app.state.services.live.check_now()  # type: ignore[attr-defined]
    body = {"decision": "clear", "note": "a human band"}
    first = client.post("/v1/review/tr0000001", json=body, headers=bearer(tokens["curator"]))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "awaiting_second_approval"
    assert first.json()["withheld_now"] is True
    queue = client.get("/v1/review", headers=bearer(tokens["curator"])).json()["queue"]
    waiting = {e["track_id"]: e for e in queue}["tr0000001"]
    assert waiting["waiting_for"] == "second_approval"
    again = client.post("/v1/review/tr0000001", json=body, headers=bearer(tokens["curator"]))
    assert again.status_code == 409, again.text
    approved = client.post("/v1/review/tr0000001", json=body, headers=bearer(second))
    assert approved.status_code == 200, approved.text
    assert approved.json() | {"store_sync": "done"} == {
        "track_id": "tr0000001",
        "decision": "clear",
        "status": "recorded",
        "withheld_now": False,
        "store_sync": "done",
    }
    holder = client.post("/v1/review/tr0000002", json=body, headers=bearer(second))
    assert holder.status_code == 409
    assert holder.json()["error"] == "conflict"
