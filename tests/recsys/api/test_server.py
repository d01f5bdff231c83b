"""The real `recsys serve` process over the embedded store, driven through HTTP.

Each edit test works on its own listener, artist or track, so the tests hold in any order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from recsys.store.embedded import EmbeddedStore
from tests.recsys.api.read_checks import (
    NEVER_SEEN,
    artist_ids,
    assert_error,
    check_read_path,
    personalised_users,
    track_ids,
)
from tests.recsys.api.world import RebuiltWorld, bearer, copy_state, make_tokens, running_server

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Server:
    client: httpx.Client
    tokens: dict[str, str]
    state: Path
    log: Path
    users: list[str]  # personalised listeners, one per edit test


@pytest.fixture(scope="module")
def server(
    rebuilt_world: RebuiltWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("api-server")
    state = copy_state(rebuilt_world, root / "state")
    tokens = make_tokens(state)
    log = root / "server.log"
    with running_server(state, log) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield Server(client, tokens, state, log, personalised_users(client, 4))


def test_the_listener_read_path(server: Server) -> None:
    check_read_path(server.client, "embedded")
    spec = server.client.get("/openapi.json").json()
    assert "/v1/users/{user_id}/exclusions/{kind}/{id}" in spec["paths"]


def test_a_curator_block_changes_the_very_next_radio(server: Server) -> None:
    client = server.client
    # A seed artist and a neighbour that its radio plays now.
    for seed in sorted(artist_ids(client.get(f"/v1/users/{server.users[0]}/mixes").json())):
        neighbours = [
            s["artist_id"] for s in client.get(f"/v1/artists/{seed}/similar").json()["similar"]
        ]
        radio = client.get(f"/v1/radio/artist/{seed}").json()
        played = {a for t in radio["tracks"] for a in t["artist_ids"]}
        both = [n for n in neighbours if n in played]
        if both:
            neighbour = both[0]
            break
    else:
        pytest.fail("no artist's radio plays one of its similar artists")
    body = {"artist_a": seed, "artist_b": neighbour, "kind": "block", "note": "different scenes"}
    answer = client.post("/v1/curation/links", json=body, headers=bearer(server.tokens["curator"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["link"]["kind"] == "block"

    similar = client.get(f"/v1/artists/{seed}/similar", params={"limit": 500}).json()["similar"]
    assert neighbour not in {s["artist_id"] for s in similar}
    radio = client.get(f"/v1/radio/artist/{seed}").json()
    assert neighbour not in {a for t in radio["tracks"] for a in t["artist_ids"]}
    links = client.get(
        "/v1/curation/links", params={"artist_id": seed}, headers=bearer(server.tokens["curator"])
    ).json()["links"]
    assert [
        (link["kind"], link["curator"])
        for link in links
        if neighbour in (link["artist_a"], link["artist_b"])
    ] == [("block", "test-curator")]


def test_a_flag_removes_the_track_from_the_next_read_of_stored_mixes(server: Server) -> None:
    client, user = server.client, server.users[1]
    before = client.get(f"/v1/users/{user}/mixes").json()
    flagged = track_ids(before)[0]
    flag = {"track_id": flagged, "source": "detector", "score": 0.99}
    answer = client.post("/v1/flags", json=flag, headers=bearer(server.tokens["trust"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["withheld_now"] is True

    assert flagged not in track_ids(client.get(f"/v1/users/{user}/mixes").json())
    radar = client.get(f"/v1/users/{user}/release-radar").json()
    assert flagged not in {t["track_id"] for t in radar["tracks"]}


def test_an_exclusion_counts_at_the_next_read_and_lifting_it_too(server: Server) -> None:
    client, user, app = server.client, server.users[2], bearer(server.tokens["app"])
    before = client.get(f"/v1/users/{user}/mixes").json()
    artist = sorted(artist_ids(before))[0]
    added = client.post(
        f"/v1/users/{user}/exclusions", json={"kind": "artist", "id": artist}, headers=app
    )
    assert added.status_code == 200 and added.json()["changed"] is True

    assert artist not in artist_ids(client.get(f"/v1/users/{user}/mixes").json())
    lifted = client.delete(f"/v1/users/{user}/exclusions/artist/{artist}", headers=app)
    assert lifted.status_code == 200 and lifted.json()["active"] is False
    assert artist in artist_ids(client.get(f"/v1/users/{user}/mixes").json())
    again = client.delete(f"/v1/users/{user}/exclusions/artist/{artist}", headers=app)
    assert_error(again, 404, "not_found")


def test_an_erased_user_gets_cold_start_and_leaves_no_stored_mixes(server: Server) -> None:
    client, user = server.client, server.users[3]
    assert "history" in {
        t["reason"]["type"]
        for m in client.get(f"/v1/users/{user}/mixes").json()["mixes"]
        for t in m["tracks"]
    }
    answer = client.delete(f"/v1/users/{user}", headers=bearer(server.tokens["admin"]))
    assert answer.status_code == 200, answer.text

    after = client.get(f"/v1/users/{user}/mixes").json()
    cold = client.get(f"/v1/users/{NEVER_SEEN}/mixes").json()
    assert track_ids(after) == track_ids(cold)
    store = EmbeddedStore(server.state)
    try:
        assert store.read_user(user) is None
    finally:
        store.close()
    audit = client.get("/v1/audit", headers=bearer(server.tokens["admin"])).json()["entries"]
    erasures = [e for e in audit if e["action"] == "users.erase"]
    assert len(erasures) == 1 and erasures[0]["actor"] == "test-admin"
    assert user not in str(audit)


def test_refused_and_invalid_calls_answer_json_and_are_audited(server: Server) -> None:
    client = server.client
    link = {"artist_a": "ar000001", "artist_b": "ar000002", "kind": "block", "note": "x"}
    assert_error(client.post("/v1/curation/links", json=link), 401, "unauthorized")
    assert_error(
        client.post("/v1/curation/links", json=link, headers=bearer("rst_not-a-token")),
        401,
        "unauthorized",
    )
    assert_error(
        client.post("/v1/curation/links", json=link, headers=bearer(server.tokens["app"])),
        403,
        "forbidden",
    )
    assert_error(
        client.get("/v1/audit", headers=bearer(server.tokens["curator"])), 403, "forbidden"
    )
    bad = client.post(
        "/v1/curation/links",
        json=link | {"weight": "heavy"},
        headers=bearer(server.tokens["curator"]),
    )
    assert assert_error(bad, 422, "invalid")["field"] == "weight"
    too_long = client.get(f"/v1/users/{'u' * 129}/mixes")
    assert assert_error(too_long, 422, "invalid")["field"] == "user_id"

    trail = client.get("/v1/audit", headers=bearer(server.tokens["admin"])).json()
    audit = trail["entries"]
    denied = [(e["actor"], e["action"]) for e in audit if e["result"] == "denied"]
    assert ("anonymous", "links.put") not in denied  # counted per minute, not one record each
    counted = {
        r["reason"]: r["count"] for r in trail["anonymous_refusals"] if r["action"] == "links.put"
    }
    assert counted == {"no token": 1, "unknown token": 1}
    assert ("test-app", "links.put") in denied and ("test-curator", "audit.read") in denied
    assert [e["why"] for e in audit if e["result"] == "invalid" and e["action"] == "links.put"]


def test_the_server_log_has_no_raw_user_ids_and_no_tracebacks(server: Server) -> None:
    server.client.get(f"/v1/users/{server.users[0]}/mixes")
    log = server.log.read_text()
    assert "/v1/users/{user_id}/mixes 200" in log  # the access log is on (-v) ...
    assert not any(user in log for user in server.users)  # ... with user ids hashed
    assert "Traceback" not in log
