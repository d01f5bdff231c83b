"""Over HTTP: a write keyed by an erased user is refused (410) and stores nothing; a clear over
a high detector score takes two curators (the first answers "awaiting_second_approval", the
same curator again 409); a clear against the rights holder's flag is refused (409); curators'
reads name artists, tracks and labels; a review of a track nothing knows is a 404."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from pool.importer import SNAPSHOT_DIR, current_pool_version, load_current_pool
from pool.model import AiFlag
from pool.snapshot import read_report
from pool.state import add_flag
from recsys.api.app import create_app
from recsys.curation.links import make_link
from recsys.curation.store import put_link
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


def test_curator_reads_name_artists_tracks_and_labels_over_http(
    served: tuple[TestClient, Path],
) -> None:
    """GET /v1/curation/links and GET /v1/review carry the current pool's names beside each
    id (every existing field kept), and null for an id the pool does not hold."""
    client, state = served
    tokens = make_tokens(state)
    conn = open_engine_state(state)
    try:
        pool = load_current_pool(conn, state)
        a, b = sorted(pool.artists)[:2]
        stray = make_link(
            artist_a=a,
            artist_b="ar-gone",
            kind="block",
            weight=None,
            curator="cora",
            note="an artist since removed from the catalogue",
            created_at=NOW,
        )
        put_link(conn, stray, why=stray.note, role="curator")
        track = sorted(pool.tracks)[0]
        add_flag(conn, AiFlag(track, "listener", 0.6, NOW), by="app", why="x", role="trust")
        add_flag(conn, AiFlag("tr-upcoming", "detector", 0.6, NOW), by="d", why="x", role="trust")
    finally:
        conn.close()
    client.app.state.services.live.check_now()  # type: ignore[attr-defined]
    curator = bearer(tokens["curator"])
    link = {"artist_a": a, "artist_b": b, "kind": "similar", "weight": 0.7, "note": "one scene"}
    assert client.post("/v1/curation/links", json=link, headers=curator).status_code == 200
    links = client.get("/v1/curation/links", params={"artist_id": a}, headers=curator).json()
    named = {(x["artist_a"], x["artist_b"]): x for x in links["links"]}
    similar = named[(a, b)]
    assert (similar["kind"], similar["weight"]) == ("similar", 0.7)
    assert (similar["artist_a_name"], similar["artist_b_name"]) == (
        pool.artists[a].name,
        pool.artists[b].name,
    )
    blocked = named[tuple(sorted((a, "ar-gone")))]
    gone_first = blocked["artist_a"] == "ar-gone"
    names = (blocked["artist_a_name"], blocked["artist_b_name"])
    assert names == ((None, pool.artists[a].name) if gone_first else (pool.artists[a].name, None))

    queue = client.get("/v1/review", headers=curator).json()["queue"]
    entries = {e["track_id"]: e for e in queue}
    known = pool.tracks[track]
    assert entries[track] == {
        "track_id": track,
        "max_score": 0.6,
        "waiting_for": "review_of_listener_reports",
        "title": known.title,
        "artists": [{"artist_id": x, "name": pool.artists[x].name} for x in known.artist_ids],
        "label": {"label_id": known.label_id, "name": pool.labels[known.label_id].name},
        "partner": known.partner,
    }
    # A track the detector holds was refused by the build: named from the pool report.
    conn = open_engine_state(state)
    try:
        version = current_pool_version(conn)
        assert version is not None
        held = read_report(state / SNAPSHOT_DIR, version)["held_tracks"]
    finally:
        conn.close()
    waiting = sorted(set(held) & set(entries))
    assert waiting, "the world's detector holds some catalogue tracks for review"
    first = entries[waiting[0]]
    assert first["title"] == held[waiting[0]]["title"] and first["title"]
    assert first["artists"] and all(x["name"] for x in first["artists"])
    upcoming = entries["tr-upcoming"]
    assert (upcoming["max_score"], upcoming["waiting_for"]) == (0.6, "review")
    assert (upcoming["title"], upcoming["artists"], upcoming["label"], upcoming["partner"]) == (
        None,
        [],
        None,
        None,
    )


def test_a_review_of_a_track_nothing_knows_is_404_over_http(
    served: tuple[TestClient, Path],
) -> None:
    """A review names a track of the pool, one its build refused, or one a flag names; a typo
    is a 404 naming it, with nothing recorded. A flag may still name a track before its feed
    arrives."""
    client, state = served
    tokens = make_tokens(state)
    conn = open_engine_state(state)
    try:
        version = current_pool_version(conn)
        assert version is not None
        refused_by_build = sorted(read_report(state / SNAPSHOT_DIR, version)["rejected_tracks"])
    finally:
        conn.close()
    curator, trust = bearer(tokens["curator"]), bearer(tokens["trust"])
    body = {"decision": "exclude", "note": "an AI voice"}
    typo = client.post("/v1/review/tr-typo", json=body, headers=curator)
    assert typo.status_code == 404, typo.text
    assert typo.json()["error"] == "not_found"
    assert "tr-typo" in typo.json()["detail"] and "not in the current pool" in typo.json()["detail"]
    assert "Traceback" not in typo.text
    reviews = sqlite3.connect(state / "state.sqlite3")
    try:
        count = "SELECT COUNT(*) FROM ai_reviews WHERE track_id = 'tr-typo'"
        assert reviews.execute(count).fetchone() == (0,)
    finally:
        reviews.close()
    assert refused_by_build, "the world's pool build refuses some tracks"
    answer = client.post(f"/v1/review/{refused_by_build[0]}", json=body, headers=curator)
    assert answer.status_code == 200, answer.text
    flag = {"track_id": "tr-later", "source": "detector", "score": 0.6}
    assert client.post("/v1/flags", json=flag, headers=trust).status_code == 200
    assert client.post("/v1/review/tr-later", json=body, headers=curator).status_code == 200
