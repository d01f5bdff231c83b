"""The app in process (FastAPI's TestClient): error shapes, auditing, change detection, caching.

A fixed clock, a copied state per test, and stores that fail on demand: what a real process is
not needed for.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from pool.audit import read_audit
from recsys.api import create_app
from recsys.api.errors import error_body
from recsys.curation.links import make_link
from recsys.curation.store import put_link
from recsys.domain.mix import (
    BASES,
    NO_LISTENER,
    OPTED_OUT,
    PERSONAL_BASIS,
    STORE_UNAVAILABLE,
    UNKNOWN_LISTENER,
)
from recsys.serving import answers
from recsys.state.schema import open_engine_state
from recsys.state.tokens import revoke_token
from recsys.store.base import MixStore, StoreUnavailableError, VersionWriter
from recsys.store.embedded import EmbeddedStore
from tests.recsys.api.read_checks import assert_error, track_ids
from tests.recsys.api.world import (
    NOW,
    RebuiltWorld,
    bearer,
    copy_state,
    make_tokens,
    settings_for,
)

with warnings.catch_warnings():
    # Starlette asks for httpx2 behind its TestClient; httpx is what this project installs.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

USER = "u0000001"


class FlakyStore:
    """An embedded store that stops answering when told to."""

    def __init__(self, inner: EmbeddedStore) -> None:
        self.inner = inner
        self.name = inner.name
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailableError("the test turned the store off")

    def begin(self, version: str) -> VersionWriter:
        return self.inner.begin(version)

    def current_version(self) -> str | None:
        self._check()
        return self.inner.current_version()

    def read_user(self, user_id: str) -> bytes | None:
        self._check()
        return self.inner.read_user(user_id)

    def delete_user(self, user_id: str) -> None:
        self._check()
        self.inner.delete_user(user_id)

    def drop_stale_versions(self) -> list[str]:
        self._check()
        return self.inner.drop_stale_versions()

    def replace_excluded_tracks(self, track_ids: Iterable[str]) -> None:
        self._check()
        self.inner.replace_excluded_tracks(track_ids)

    def excluded_among(self, track_ids: list[str]) -> set[str]:
        self._check()
        return self.inner.excluded_among(track_ids)

    def ping(self) -> bool:
        return not self.down

    def close(self) -> None:
        self.inner.close()


class Api:
    def __init__(self, state: Path, tokens: dict[str, str], store: FlakyStore, app: FastAPI):
        self.state = state
        self.tokens = tokens
        self.store = store
        self.app = app
        self.client = TestClient(app, raise_server_exceptions=False)

    def as_role(self, role: str) -> dict[str, str]:
        return bearer(self.tokens[role])

    def audit_count(self) -> int:
        conn = sqlite3.connect(self.state / "state.sqlite3")
        try:
            return int(conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
        finally:
            conn.close()

    def anonymous_count(self) -> int:
        """Calls refused for want of a valid token: counted, not recorded one by one."""
        conn = sqlite3.connect(self.state / "state.sqlite3")
        try:
            return int(
                conn.execute("SELECT COALESCE(SUM(count), 0) FROM anonymous_refusals").fetchone()[0]
            )
        finally:
            conn.close()

    def last_audit(self) -> dict[str, Any]:
        conn = open_engine_state(self.state)
        try:
            return read_audit(conn)[-1].as_dict()
        finally:
            conn.close()


@pytest.fixture
def make_api(rebuilt_world: RebuiltWorld, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(**options: Any) -> Api:
        state = copy_state(rebuilt_world, tmp_path / f"state-{len(made)}")
        tokens = make_tokens(state)
        store = FlakyStore(EmbeddedStore(state))
        checked: MixStore = store  # FlakyStore must meet the store protocol
        options.setdefault("store_cooldown_s", 0.0)
        app = create_app(settings_for(state), lambda: NOW, store=checked, **options)
        api = Api(state, tokens, store, app)
        api.client.__enter__()  # runs the lifespan: closed (state, store) at teardown
        made.append(api)
        return api

    yield make
    for api in made:
        api.client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


def test_every_mutating_call_leaves_exactly_one_audit_record(api: Api) -> None:
    """... or, refused for want of a token (401), one count in its minute's row."""
    link = {"artist_a": "ar000001", "artist_b": "ar000002", "kind": "similar", "weight": 0.7}
    calls: list[tuple[str, str, dict[str, Any] | None, dict[str, str], int, str]] = [
        (
            "POST",
            "/v1/curation/links",
            link | {"note": "same scene"},
            api.as_role("curator"),
            200,
            "ok",
        ),
        ("POST", "/v1/curation/links", link, api.as_role("curator"), 422, "invalid"),
        ("POST", "/v1/curation/links", link | {"note": "x"}, {}, 401, "denied"),
        ("POST", "/v1/curation/links", link | {"note": "x"}, api.as_role("trust"), 403, "denied"),
        ("DELETE", "/v1/curation/links/ar000001/ar000002", None, api.as_role("admin"), 200, "ok"),
        (
            "DELETE",
            "/v1/curation/links/ar000001/ar000002",
            None,
            api.as_role("curator"),
            404,
            "invalid",
        ),
        (
            "POST",
            f"/v1/users/{USER}/exclusions",
            {"kind": "track", "id": "tr1"},
            api.as_role("app"),
            200,
            "ok",
        ),
        (
            "POST",
            f"/v1/users/{USER}/exclusions",
            {"kind": "track", "id": "tr1"},
            api.as_role("app"),
            200,
            "ok",
        ),
        (
            "POST",
            f"/v1/users/{USER}/exclusions",
            {"kind": "album", "id": "x"},
            api.as_role("app"),
            422,
            "invalid",
        ),
        (
            "POST",
            "/v1/flags",
            {"track_id": "tr0000001", "source": "label", "score": 1.5},
            api.as_role("trust"),
            422,
            "invalid",
        ),
        (
            "POST",
            "/v1/review/tr0000001",
            {"decision": "clear", "note": "human voice"},
            api.as_role("curator"),
            200,
            "ok",
        ),
        ("GET", "/v1/audit", None, api.as_role("app"), 403, "denied"),
    ]
    for method, path, body, headers, status, result in calls:
        before, anonymous = api.audit_count(), api.anonymous_count()
        answer = api.client.request(method, path, json=body, headers=headers)
        assert answer.status_code == status, (path, answer.text)
        if status == 401:
            assert (api.audit_count(), api.anonymous_count()) == (before, anonymous + 1)
            continue
        assert api.audit_count() == before + 1, (method, path)
        assert api.anonymous_count() == anonymous, (method, path)
        assert api.last_audit()["result"] == result, (method, path)


def test_reads_are_not_audited(api: Api) -> None:
    before = api.audit_count()
    api.client.get(f"/v1/users/{USER}/mixes")
    api.client.get("/v1/review", headers=api.as_role("curator"))
    api.client.get("/v1/radio/artist/nobody")
    assert api.audit_count() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/v1/artists/a%01b/similar", None, "artist_id"),
        ("GET", "/v1/artists/ar000001/similar?limit=0", None, "limit"),
        ("GET", "/v1/radio/artist/ar000001?limit=many", None, "limit"),
        ("POST", "/v1/flags", {"track_id": "t1", "source": "detector"}, "score"),
        ("POST", "/v1/flags", {"track_id": "t1", "source": "oracle", "score": 1.0}, "source"),
        ("POST", "/v1/flags", {"track_id": "t1", "source": "label", "score": 1, "x": 1}, "x"),
        ("POST", "/v1/flags", {"track_id": " t1", "source": "label", "score": 1.0}, "track_id"),
        ("POST", "/v1/flags", [1, 2], "body"),
        ("POST", "/v1/review/t1", {"decision": "exclude", "note": ""}, "note"),
        (
            "POST",
            "/v1/curation/links",
            {"artist_a": "ar000001", "artist_b": "ar000001", "kind": "block", "note": "x"},
            "artist_b",
        ),
        (
            "POST",
            "/v1/curation/links",
            {"artist_a": "ar000001", "artist_b": "nobody", "kind": "block", "note": "x"},
            "artist_b",
        ),
        ("GET", "/v1/audit?since=yesterday", None, "since"),
    ],
)
def test_validation_errors_name_the_field(
    api: Api, method: str, path: str, body: Any, field: str
) -> None:
    answer = api.client.request(method, path, json=body, headers=api.as_role("admin"))
    assert assert_error(answer, 422, "invalid")["field"] == field
    assert field in answer.json()["detail"]


def test_malformed_json_is_a_422_too(api: Api) -> None:
    answer = api.client.post(
        "/v1/flags",
        content=b"{not json",
        headers=api.as_role("trust") | {"content-type": "application/json"},
    )
    assert assert_error(answer, 422, "invalid")["field"] == "body"


def test_unknown_routes_and_methods_answer_our_json(api: Api) -> None:
    assert_error(api.client.get("/v2/nothing"), 404, "not_found")
    assert_error(api.client.put("/v1/flags"), 405, "method_not_allowed")


def test_a_revoked_token_is_refused_at_the_next_call(api: Api) -> None:
    headers = api.as_role("curator")
    assert api.client.get("/v1/review", headers=headers).status_code == 200
    conn = open_engine_state(api.state)
    try:
        assert revoke_token(conn, "test-curator", by="tests", why="left", now=NOW)
    finally:
        conn.close()
    assert_error(api.client.get("/v1/review", headers=headers), 401, "unauthorized")


def test_admin_may_call_every_role_endpoint(api: Api) -> None:
    admin = api.as_role("admin")
    assert api.client.get("/v1/review", headers=admin).status_code == 200
    assert api.client.get("/v1/curation/links", headers=admin).status_code == 200
    flag = {"track_id": "tr0000002", "source": "detector", "score": 0.2}
    assert api.client.post("/v1/flags", json=flag, headers=admin).status_code == 200
    exclusion = {"kind": "artist", "id": "ar000003"}
    assert (
        api.client.post(f"/v1/users/{USER}/exclusions", json=exclusion, headers=admin).status_code
        == 200
    )


def test_an_unexpected_error_is_a_generic_500_logged_on_the_server(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(answers, "similar", explode)
    with caplog.at_level(logging.ERROR, logger="recsys.api.app"):
        answer = api.client.get("/v1/artists/ar000001/similar")
    body = assert_error(answer, 500, "internal")
    assert "secret" not in answer.text and body == error_body("internal", body["detail"])
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)


def test_a_store_that_does_not_answer(api: Api) -> None:
    api.store.down = True
    health = api.client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert health.json()["error"] == "store_unavailable"
    # Reads fall back to non-personalised mixes rather than failing ...
    fallback = api.client.get(f"/v1/users/{USER}/mixes")
    assert fallback.status_code == 200
    assert "history" not in {
        t["reason"]["type"] for m in fallback.json()["mixes"] for t in m["tracks"]
    }
    # ... an erasure says it is unfinished ...
    erase = api.client.delete(f"/v1/users/{USER}", headers=api.as_role("admin"))
    assert_error(erase, 503, "store_unavailable")
    # ... while this server forgets the user's data at once ...
    assert not api.app.state.services.live.engine.history.of(USER).track_ids
    # ... and repeating it once the store is back finishes it.
    api.store.down = False
    assert api.client.delete(f"/v1/users/{USER}", headers=api.as_role("admin")).status_code == 200
    assert api.store.read_user(USER) is None


def test_reads_leave_a_failed_store_alone_for_the_cooldown(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(store_cooldown_s=60.0)
    api.store.down = True
    assert api.client.get(f"/v1/users/{USER}/mixes").status_code == 200  # the fallback
    api.store.down = False  # back, but the breaker does not ask it again yet
    assert api.client.get("/healthz").json()["status"] == "degraded"
    answer = api.client.get(f"/v1/users/{USER}/mixes").json()
    assert "history" not in {t["reason"]["type"] for m in answer["mixes"] for t in m["tracks"]}


def test_the_fallback_is_not_cached(api: Api) -> None:
    stored = api.client.get("/v1/users/u0000002/mixes").json()
    api.store.down = True
    fallback = api.client.get("/v1/users/u0000003/mixes").json()
    api.store.down = False
    assert api.client.get("/v1/users/u0000003/mixes").json() != fallback
    assert api.client.get("/v1/users/u0000002/mixes").json() == stored


def test_changes_made_elsewhere_are_picked_up_within_the_check_interval(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(check_interval_s=0.0)
    similar = api.client.get("/v1/artists/ar000001/similar", params={"limit": 500}).json()
    partner = similar["similar"][0]["artist_id"]
    conn = open_engine_state(api.state)  # as `recsys links block` would, from another process
    try:
        link = make_link(
            artist_a="ar000001",
            artist_b=partner,
            kind="block",
            weight=None,
            curator="cli-curator",
            note="from the CLI",
            created_at=NOW,
        )
        put_link(conn, link, why="from the CLI", role="curator")
    finally:
        conn.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = api.client.get("/v1/artists/ar000001/similar", params={"limit": 500}).json()
        if partner not in {s["artist_id"] for s in answer["similar"]}:
            return
        time.sleep(0.05)
    pytest.fail("the server never noticed a link edited in the state by another process")


def test_an_exclusion_recorded_elsewhere_counts_at_the_next_read(api: Api) -> None:
    before = api.client.get(f"/v1/users/{USER}/mixes").json()  # now cached
    track = track_ids(before)[0]
    conn = open_engine_state(api.state)
    try:
        conn.execute(
            "INSERT INTO user_exclusions VALUES (?, 'track', ?, 1, ?)",
            (USER, track, NOW.isoformat()),
        )
    finally:
        conn.close()
    assert track not in track_ids(api.client.get(f"/v1/users/{USER}/mixes").json())


def test_openapi_documents_every_endpoint_and_the_bearer_scheme(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    expected = {
        ("get", "/healthz"),
        ("get", "/v1/users/{user_id}/mixes"),
        ("get", "/v1/users/{user_id}/release-radar"),
        ("get", "/v1/radio/artist/{artist_id}"),
        ("get", "/v1/radio/track/{track_id}"),
        ("get", "/v1/artists/{artist_id}/similar"),
        ("get", "/v1/curation/links"),
        ("post", "/v1/curation/links"),
        ("delete", "/v1/curation/links/{artist_a}/{artist_b}"),
        ("post", "/v1/flags"),
        ("get", "/v1/review"),
        ("post", "/v1/review/{track_id}"),
        ("get", "/v1/audit"),
        ("post", "/v1/users/{user_id}/exclusions"),
        ("delete", "/v1/users/{user_id}/exclusions/{kind}/{id}"),
        ("delete", "/v1/users/{user_id}"),
    }
    documented = {(m, p) for p, item in spec["paths"].items() for m in item}
    assert documented == expected
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in spec["paths"]["/v1/users/{user_id}/mixes"]["get"]
    assert "security" in spec["paths"]["/v1/flags"]["post"]


def _mixes_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The mixes of a listener's answer (``{"mixes": [...]}``) or the one mix it is."""
    return list(answer["mixes"]) if "mixes" in answer else [answer]


def _bases(api: Api, path: str) -> set[tuple[bool, str]]:
    answer = api.client.get(path)
    assert answer.status_code == 200, answer.text
    return {(m["personalised"], m["basis"]) for m in _mixes_of(answer.json())}


def test_every_mix_answer_says_whether_it_is_personalised_and_why(api: Api) -> None:
    engine = api.app.state.services.live.engine
    opted_out = sorted(engine.optouts)[0]
    artist = next(iter(engine.context.graph))
    personal = (True, PERSONAL_BASIS)
    assert _bases(api, f"/v1/users/{USER}/mixes") == {personal}  # stored, served as stored
    assert _bases(api, f"/v1/users/{USER}/release-radar") == {personal}
    assert _bases(api, f"/v1/radio/artist/{artist}?user_id={USER}") == {personal}
    assert _bases(api, f"/v1/radio/artist/{artist}") == {(False, NO_LISTENER)}
    assert _bases(api, "/v1/users/never-seen/mixes") == {(False, UNKNOWN_LISTENER)}
    assert _bases(api, "/v1/users/never-seen/release-radar") == {(False, UNKNOWN_LISTENER)}
    assert _bases(api, f"/v1/users/{opted_out}/mixes") == {(False, OPTED_OUT)}
    api.store.down = True  # for a listener not read yet (the answers above are cached)
    assert _bases(api, "/v1/users/u0000002/mixes") == {(False, STORE_UNAVAILABLE)}
    assert _bases(api, "/v1/users/u0000002/release-radar") == {(False, STORE_UNAVAILABLE)}


def test_every_mix_track_names_its_artists_in_order(api: Api) -> None:
    names = api.app.state.services.live.engine.context.catalog.artist_names
    artist = next(iter(api.app.state.services.live.engine.context.graph))
    tracks = [
        track
        for path in (
            f"/v1/users/{USER}/mixes",
            f"/v1/users/{USER}/release-radar",
            "/v1/users/never-seen/mixes",
            f"/v1/radio/artist/{artist}",
        )
        for mix in _mixes_of(api.client.get(path).json())
        for track in mix["tracks"]
    ]
    assert tracks
    for track in tracks:
        assert track["artist_names"] == [names[a] for a in track["artist_ids"]], track
    # A stored mix read through the final filter's way (the listener excluded a track of it
    # since the rebuild) is named and stamped as well.
    stored = api.client.get(f"/v1/users/{USER}/mixes").json()["mixes"]
    excluded = stored[0]["tracks"][0]["track_id"]
    body = {"kind": "track", "id": excluded}
    added = api.client.post(f"/v1/users/{USER}/exclusions", json=body, headers=api.as_role("app"))
    assert added.status_code in (200, 201), added.text
    filtered = api.client.get(f"/v1/users/{USER}/mixes").json()["mixes"]
    assert excluded not in {t["track_id"] for m in filtered for t in m["tracks"]}
    assert {(m["personalised"], m["basis"]) for m in filtered} == {(True, PERSONAL_BASIS)}
    for track in (t for m in filtered for t in m["tracks"]):
        assert track["artist_names"] == [names[a] for a in track["artist_ids"]], track


def test_openapi_documents_the_basis_and_the_artist_names(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    mix, track = schemas["MixOut"], schemas["TrackOut"]
    assert {"personalised", "basis"} <= set(mix["required"])
    assert mix["properties"]["personalised"]["type"] == "boolean"
    assert set(mix["properties"]["basis"]["enum"]) == set(BASES)
    assert "artist_names" in track["required"]
    # The pinned fields stay.
    assert {"mix_id", "kind", "title", "generated_at", "pool_version", "model_version"} <= set(
        mix["required"]
    )
    assert {"track_id", "artist_ids", "title", "reason"} <= set(track["required"])
