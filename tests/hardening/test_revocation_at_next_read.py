"""A trust revocation (issue 13, item 3) and a curator's block take effect at the next read, on
every output path.

Revoking an artist's verification, a label's or a partner's trust removes their tracks from
stored mixes, Release Radar and radios, and a revoked artist from similar-artist answers, at
the next read: through the command line (a fresh engine) and through a running server (its
live engine catches up with the state), without a pool build or a rebuild.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from pool.importer import load_current_pool
from pool.state import set_trust
from recsys.api.app import create_app
from recsys.payload.codec import decode_user
from recsys.state.schema import open_engine_state
from recsys.store.factory import open_store
from tests.recsys.api.world import NOW, bearer, make_tokens, rebuild_world, settings_for
from tests.recsys.cli_runner import run_cli

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rebuild_world(tmp_path_factory.mktemp("revocation")).state


@pytest.fixture
def state(rebuilt: Path, tmp_path: Path) -> Path:
    """A copy of the rebuilt state for one test (each test revokes something)."""
    copy = tmp_path / "state"
    shutil.copytree(rebuilt, copy)
    return copy


def _stored_users(state: Path) -> dict[str, dict[str, Any]]:
    store = open_store(settings_for(state))
    try:
        conn = store.conn  # type: ignore[attr-defined]
        rows = conn.execute(
            "SELECT user_id, payload FROM user_payloads WHERE version ="
            " (SELECT value FROM store_pointer WHERE name = 'current')"
        ).fetchall()
        return {user: decode_user(bytes(payload)) for user, payload in rows}
    finally:
        store.close()


def _tracks(document: dict[str, Any]) -> list[dict[str, Any]]:
    mixes = [*document.get("mixes", []), document.get("release_radar") or {"tracks": []}]
    return [t for m in mixes for t in m["tracks"]]


def _victim(state: Path, kind: str) -> tuple[str, str, set[str]]:
    """A listener whose stored mixes hold a track of some artist (label, partner): the
    subject to revoke, the listener, and the pool's tracks of that subject."""
    conn = open_engine_state(state)
    try:
        pool = load_current_pool(conn, state)
    finally:
        conn.close()
    for user, document in sorted(_stored_users(state).items()):
        for entry in _tracks(document):
            track = pool.tracks[entry["track_id"]]
            subject = {
                "artist": track.artist_ids[0],
                "label": track.label_id,
                "partner": track.partner,
            }[kind]
            owned = {
                t.track_id
                for t in pool.tracks.values()
                if subject
                in {"artist": t.artist_ids, "label": (t.label_id,), "partner": (t.partner,)}[kind]
            }
            # A partner may deliver nearly the whole pool; keep the check meaningful.
            if len(owned) < len(pool.tracks) // 2:
                return subject, user, owned
    raise AssertionError("no stored track to revoke")


def _cli_json(state: Path, *args: str) -> Any:
    result = run_cli(*args, state_dir=state)
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.mark.parametrize("kind", ["artist", "label", "partner"])
def test_a_revocation_empties_every_cli_read_of_the_subjects_tracks(state: Path, kind: str) -> None:
    subject, user, owned = _victim(state, kind)
    before = {t["track_id"] for t in _tracks(_cli_json(state, "mixes", user))} | {
        t["track_id"] for t in _cli_json(state, "release-radar", user)["tracks"]
    }
    assert before & owned, "the positive control: the listener is served such a track"
    revoked = run_cli(
        "trust",
        "revoke",
        f"--{kind}",
        subject,
        "--by",
        "tina",
        "--why",
        "impersonation",
        state_dir=state,
    )
    assert revoked.code == 0, revoked.err
    assert json.loads(revoked.out)["effective"] == "at the next read"
    after = [*_tracks(_cli_json(state, "mixes", user))]
    after += _cli_json(state, "release-radar", user)["tracks"]
    assert not {t["track_id"] for t in after} & owned
    assert after, "the rest of the listener's mixes is still served"
    # The store's withheld set holds the tracks too (other readers check it).
    store = open_store(settings_for(state))
    try:
        assert store.excluded_among(sorted(owned)) == owned
    finally:
        store.close()
    if kind == "artist":
        radio = run_cli("radio", "--artist", subject, state_dir=state)
        assert radio.code == 1
        assert "not a verified artist" in radio.err


def test_a_running_server_honours_a_revocation_at_the_next_read(state: Path) -> None:
    subject, user, owned = _victim(state, "artist")
    app = create_app(settings_for(state), lambda: NOW)
    with TestClient(app) as client:
        mixes = client.get(f"/v1/users/{user}/mixes").json()
        assert {t["track_id"] for t in _tracks(mixes)} & owned
        neighbours = client.get(f"/v1/artists/{subject}/similar?limit=5").json()["similar"]
        neighbour = neighbours[0]["artist_id"]
        assert subject in {
            s["artist_id"]
            for s in client.get(f"/v1/artists/{neighbour}/similar?limit=50").json()["similar"]
        }
        # The trust team revokes from the command line (another process, another connection).
        conn = open_engine_state(state)
        try:
            set_trust(conn, "artist", subject, trusted=False, by="tina", why="fake", now=NOW)
        finally:
            conn.close()
        app.state.services.live.check_now()  # what the next request's check would do
        mixes = client.get(f"/v1/users/{user}/mixes").json()
        radar = client.get(f"/v1/users/{user}/release-radar").json()
        assert not {t["track_id"] for t in _tracks(mixes) + radar["tracks"]} & owned
        assert client.get(f"/v1/radio/artist/{subject}").status_code == 404
        radio = client.get(f"/v1/radio/artist/{neighbour}").json()
        assert not {t["track_id"] for t in radio["tracks"]} & owned
        similar = client.get(f"/v1/artists/{neighbour}/similar?limit=50").json()["similar"]
        assert subject not in {s["artist_id"] for s in similar}
        assert client.get(f"/v1/artists/{subject}/similar").status_code == 404


def _graph_reasoned(state: Path) -> tuple[str, str, str, str]:
    """A stored track reached through the graph: (listener, track, via artist, its artist).
    Only a track the listener's outputs hold once: a track can also sit in another of their
    mixes for another reason (as a familiar track of an anchor), which a block between two
    other artists rightly leaves in place."""
    for user, document in sorted(_stored_users(state).items()):
        entries = _tracks(document)
        held = Counter(entry["track_id"] for entry in entries)
        for entry in entries:
            reason = entry["reason"]
            if reason["type"] in ("curated_link", "als_neighbour") and held[entry["track_id"]] == 1:
                return user, entry["track_id"], reason["via"]["artist_id"], entry["artist_ids"][0]
    raise AssertionError("no stored track with a graph reason")


def test_a_block_made_after_the_rebuild_removes_reasons_across_it_at_the_next_read(
    state: Path,
) -> None:
    """A curator's decision counts at the next read (docs/contract.md invariants 3 and 8):
    a stored mix generated before the block loses the tracks whose reason crosses it."""
    user, track, via, artist = _graph_reasoned(state)
    before = {t["track_id"] for t in _tracks(_cli_json(state, "mixes", user))}
    before |= {t["track_id"] for t in _cli_json(state, "release-radar", user)["tracks"]}
    assert track in before, "the positive control: served before the block"
    blocked = run_cli(
        "links", "block", via, artist, "--by", "cora", "--why", "not alike", state_dir=state
    )
    assert blocked.code == 0, blocked.err
    after = _tracks(_cli_json(state, "mixes", user))
    after += _cli_json(state, "release-radar", user)["tracks"]
    assert track not in {t["track_id"] for t in after}
    assert after, "the rest of the listener's mixes is still served"
    for entry in after:
        reason = entry["reason"]
        if reason["type"] in ("curated_link", "als_neighbour"):
            pair = {reason["via"]["artist_id"], *entry["artist_ids"]}
            assert not {via, artist} <= pair


def test_a_running_server_drops_reasons_across_a_new_block_at_the_next_read(state: Path) -> None:
    user, track, via, artist = _graph_reasoned(state)
    app = create_app(settings_for(state), lambda: NOW)
    with TestClient(app) as client:
        tokens = make_tokens(state)
        mixes = client.get(f"/v1/users/{user}/mixes").json()
        radar = client.get(f"/v1/users/{user}/release-radar").json()
        assert track in {t["track_id"] for t in _tracks(mixes) + radar["tracks"]}
        block = {"artist_a": via, "artist_b": artist, "kind": "block", "note": "not alike"}
        edit = client.post("/v1/curation/links", json=block, headers=bearer(tokens["curator"]))
        assert edit.status_code == 200, edit.text
        mixes = client.get(f"/v1/users/{user}/mixes").json()
        radar = client.get(f"/v1/users/{user}/release-radar").json()
        assert track not in {t["track_id"] for t in _tracks(mixes) + radar["tracks"]}
