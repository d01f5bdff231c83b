"""The listener read path checked through HTTP, shared by the embedded and Redis server tests."""

from __future__ import annotations

from typing import Any

import httpx

REASONS = {"history", "curated_link", "als_neighbour", "followed_artist", "seed"}
NEVER_SEEN = "listener-never-seen"


def personalised_users(client: httpx.Client, count: int) -> list[str]:
    """Users whose stored mixes come from their own listening (a "history" reason)."""
    found = []
    for number in range(1, 300):
        user = f"u{number:07d}"
        mixes = client.get(f"/v1/users/{user}/mixes").json()["mixes"]
        reasons = {t["reason"]["type"] for m in mixes for t in m["tracks"]}
        if "history" in reasons:
            found.append(user)
            if len(found) == count:
                return found
    raise AssertionError("the world has too few personalised listeners")


def track_ids(body: dict[str, Any]) -> list[str]:
    return [t["track_id"] for m in body["mixes"] for t in m["tracks"]]


def artist_ids(body: dict[str, Any]) -> set[str]:
    return {a for m in body["mixes"] for t in m["tracks"] for a in t["artist_ids"]}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A JSON error of our shape, with no trace of a Python stack."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def check_read_path(client: httpx.Client, store_name: str) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["store"] == store_name
    pool_version = health.json()["pool_version"]
    assert pool_version.startswith("pool-") and health.json()["model_version"].startswith("als-")

    user = personalised_users(client, 1)[0]
    mixes = client.get(f"/v1/users/{user}/mixes").json()
    assert mixes["user_id"] == user and mixes["mixes"]
    for mix in mixes["mixes"]:
        assert mix["kind"] == "mix" and mix["pool_version"] == pool_version and mix["tracks"]
        assert {t["reason"]["type"] for t in mix["tracks"]} <= REASONS
        assert len(set(t["track_id"] for t in mix["tracks"])) == len(mix["tracks"])

    radar = client.get(f"/v1/users/{user}/release-radar")
    assert radar.status_code == 200 and radar.json()["kind"] == "release_radar"

    first = mixes["mixes"][0]["tracks"][0]
    artist, track = first["artist_ids"][0], first["track_id"]
    radio = client.get(f"/v1/radio/artist/{artist}", params={"limit": 10}).json()
    assert radio["kind"] == "artist_radio" and 1 <= len(radio["tracks"]) <= 10
    personal = client.get(f"/v1/radio/artist/{artist}", params={"user_id": user})
    assert personal.status_code == 200 and personal.json()["kind"] == "artist_radio"
    track_radio = client.get(f"/v1/radio/track/{track}", params={"limit": 5}).json()
    assert track_radio["kind"] == "track_radio" and 1 <= len(track_radio["tracks"]) <= 5

    similar = client.get(f"/v1/artists/{artist}/similar", params={"limit": 5}).json()
    assert similar["artist_id"] == artist and 1 <= len(similar["similar"]) <= 5
    assert {s["source"] for s in similar["similar"]} <= {"als", "curated"}
    # Names beside ids, as the CLI's `similar` prints them (the same answer).
    assert isinstance(similar["artist_name"], str) and similar["artist_name"]
    assert all(isinstance(s["name"], str) and s["name"] for s in similar["similar"])

    cold = client.get(f"/v1/users/{NEVER_SEEN}/mixes")
    assert cold.status_code == 200 and cold.json()["mixes"]
    assert "history" not in {t["reason"]["type"] for m in cold.json()["mixes"] for t in m["tracks"]}

    assert_error(client.get("/v1/radio/artist/no-such-artist"), 404, "not_found")
    assert_error(client.get("/v1/radio/track/no-such-track"), 404, "not_found")
    assert_error(client.get("/v1/artists/no-such-artist/similar"), 404, "not_found")
