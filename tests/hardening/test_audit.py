"""The audit trail (SPEC sections 2 and 5): every mutating or refused call leaves exactly one
record of who (actor and role) did what (action, subject), the state before and after, the
result and the time (a call refused for want of a valid token: one count in its minute's
row, so anonymous traffic cannot grow the trail without bound); and the trail is append-only,
for the database itself and for every code path (erasure and rebuilds included), while
naming erased users only by their keyed hash.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from pool.importer import load_current_pool
from pool.state import STATE_FILE
from recsys.api import create_app
from recsys.cli.main import main as recsys_main
from recsys.state.privacy import erase_user, hash_user, user_hash_key
from recsys.state.schema import open_engine_state
from recsys.store.factory import open_store
from recsys.world import WorldConfig, generate_world
from tests.recsys.api.world import NOW, TODAY, bearer, make_tokens, settings_for
from tests.staff import trusted_rebuild

with warnings.catch_warnings():
    # Starlette asks for httpx2 behind its TestClient; httpx is what this project installs.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

USER = "u0000007"
FIELDS = {"at", "actor", "role", "action", "subject", "before", "after", "why", "result"}


@dataclass(frozen=True)
class Rebuilt:
    data: Path
    state: Path


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Rebuilt:
    root = tmp_path_factory.mktemp("audit-world")
    generate_world(root / "data", WorldConfig(users=120, artists=30, seed=11, today=TODAY))
    settings = settings_for(root / "state")
    trusted_rebuild(settings, root / "data", NOW, progress=lambda done, total: None, workers=1)
    return Rebuilt(root / "data", root / "state")


def audit_rows(state: Path) -> list[tuple[Any, ...]]:
    """The raw table, read with sqlite3 alone (not through the code under test)."""
    conn = sqlite3.connect(state / STATE_FILE)
    try:
        return conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    finally:
        conn.close()


def audit_records(state: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(state / STATE_FILE)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    finally:
        conn.close()
    records = []
    for row in rows:
        record = dict(row)
        for side in ("before", "after"):
            record[side] = None if record[side] is None else json.loads(record[side])
        records.append(record)
    return records


def anonymous_counts(state: Path) -> dict[tuple[str, str, int, str], int]:
    """The counted refusals without a valid token: (minute, action, status, reason) -> n."""
    conn = sqlite3.connect(state / STATE_FILE)
    try:
        rows = conn.execute("SELECT minute, action, status, reason, count FROM anonymous_refusals")
        return {(m, a, s, r): n for m, a, s, r, n in rows}
    finally:
        conn.close()


class Api:
    """The app over a copied state, at the fixed moment NOW, with one token per role."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.tokens = make_tokens(state)
        self.app: FastAPI = create_app(settings_for(state), lambda: NOW)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        engine = self.app.state.services.live.engine
        self.artists = sorted(engine.context.graph.nodes)
        self.track = min(engine.context.catalog.tracks)

    def headers(self, caller: str | None) -> dict[str, str]:
        if caller is None:
            return {}
        if caller == "forged":
            return bearer("rst_not-a-token-anyone-was-given")
        return bearer(self.tokens[caller])


@pytest.fixture
def api(rebuilt: Rebuilt, tmp_path: Path) -> Iterator[Api]:
    made = Api(shutil.copytree(rebuilt.state, tmp_path / "state"))
    with made.client:
        yield made


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any
    caller: str | None  # a role, None (no token) or "forged" (a token nobody was given)
    status: int
    action: str
    result: str


def calls_for(api: Api) -> list[Call]:
    """Every mutating endpoint of SPEC section 5, each done, refused (401 without a token
    and with a forged one, 403 for the wrong role) and malformed (422, 404), in an order in
    which each call's outcome is known; and refused reads of staff endpoints."""
    a, b, c = api.artists[:3]
    track = api.track
    link = {"artist_a": a, "artist_b": b, "kind": "similar", "weight": 0.7, "note": "one scene"}
    flag = {"track_id": track, "source": "detector", "score": 0.2, "note": "weekly scan"}
    review = {"decision": "clear", "note": "a human voice"}
    unsure = review | {"decision": "maybe"}
    exclusion = {"kind": "artist", "id": c}
    links, pair = "/v1/curation/links", f"/v1/curation/links/{a}/{b}"
    reviewed, erase = f"/v1/review/{track}", f"/v1/users/{USER}"
    mine = f"{erase}/exclusions"
    lifted = f"{mine}/artist/{c}"
    return [
        Call("POST", links, link, "curator", 200, "links.similar", "ok"),
        Call("POST", links, link, None, 401, "links.put", "denied"),
        Call("POST", links, link, "forged", 401, "links.put", "denied"),
        Call("POST", links, link, "app", 403, "links.put", "denied"),
        Call("POST", links, link | {"note": ""}, "curator", 422, "links.put", "invalid"),
        Call("POST", links, {"kind": "block"}, "curator", 422, "links.put", "invalid"),
        Call("DELETE", pair, None, None, 401, "links.remove", "denied"),
        Call("DELETE", pair, None, "trust", 403, "links.remove", "denied"),
        Call("DELETE", pair, None, "curator", 200, "links.remove", "ok"),
        Call("DELETE", pair, None, "curator", 404, "links.remove", "invalid"),
        Call("POST", "/v1/flags", flag, "trust", 200, "flags.add", "ok"),
        Call("POST", "/v1/flags", flag, "admin", 200, "flags.add", "ok"),
        Call("POST", "/v1/flags", flag, None, 401, "flags.add", "denied"),
        Call("POST", "/v1/flags", flag, "curator", 403, "flags.add", "denied"),
        Call("POST", "/v1/flags", flag | {"score": 7}, "trust", 422, "flags.add", "invalid"),
        Call("POST", reviewed, review, "curator", 200, "flags.review", "ok"),
        Call("POST", reviewed, review, "forged", 401, "flags.review", "denied"),
        Call("POST", reviewed, review, "trust", 403, "flags.review", "denied"),
        Call("POST", reviewed, unsure, "curator", 422, "flags.review", "invalid"),
        Call("POST", mine, exclusion, "app", 200, "exclusions.add", "ok"),
        Call("POST", mine, exclusion, None, 401, "exclusions.add", "denied"),
        Call("POST", mine, exclusion, "curator", 403, "exclusions.add", "denied"),
        Call("POST", mine, exclusion | {"kind": "album"}, "app", 422, "exclusions.add", "invalid"),
        Call("DELETE", lifted, None, None, 401, "exclusions.remove", "denied"),
        Call("DELETE", lifted, None, "trust", 403, "exclusions.remove", "denied"),
        Call("DELETE", f"{mine}/album/{c}", None, "app", 422, "exclusions.remove", "invalid"),
        Call("DELETE", lifted, None, "app", 200, "exclusions.remove", "ok"),
        Call("DELETE", lifted, None, "app", 404, "exclusions.remove", "invalid"),
        Call("DELETE", erase, None, None, 401, "users.erase", "denied"),
        Call("DELETE", erase, None, "app", 403, "users.erase", "denied"),
        Call("DELETE", f"/v1/users/{'u' * 129}", None, "admin", 422, "users.erase", "invalid"),
        Call("DELETE", erase, None, "admin", 200, "users.erase", "ok"),
        Call("GET", "/v1/audit", None, None, 401, "audit.read", "denied"),
        Call("GET", "/v1/audit", None, "curator", 403, "audit.read", "denied"),
        Call("GET", "/v1/review", None, "forged", 401, "review.read", "denied"),
        Call("GET", "/v1/review", None, "app", 403, "review.read", "denied"),
        Call("GET", links, None, "trust", 403, "links.read", "denied"),
    ]


def test_every_mutating_or_refused_api_call_writes_exactly_one_complete_record(api: Api) -> None:
    conn = open_engine_state(api.state)
    try:
        user_ref = f"user:{hash_user(user_hash_key(conn, NOW), USER)}"
    finally:
        conn.close()
    for call in calls_for(api):
        before = audit_records(api.state)
        counted = anonymous_counts(api.state)
        answer = api.client.request(
            call.method, call.path, json=call.body, headers=api.headers(call.caller)
        )
        assert answer.status_code == call.status, (call, answer.text)
        after = audit_records(api.state)
        assert after[: len(before)] == before, call  # nothing earlier changed ...
        if call.caller in (None, "forged"):
            # ... and a call without a valid token is counted in its minute's row instead of
            # recorded (anyone can make it, as often as they like: see pool.audit).
            assert after == before, call
            reason = "no token" if call.caller is None else "unknown token"
            key = (NOW.replace(second=0).isoformat(), call.action, 401, reason)
            assert anonymous_counts(api.state) == counted | {key: counted.get(key, 0) + 1}
            continue
        assert anonymous_counts(api.state) == counted, call
        assert len(after) == len(before) + 1, call  # ... and exactly one record was added
        record = after[-1]
        assert set(record) - {"id"} == FIELDS
        assert record["at"] == NOW.isoformat()
        assert record["actor"] == f"test-{call.caller}", call
        assert record["role"] == call.caller, call
        assert (record["action"], record["result"]) == (call.action, call.result), call
        assert record["why"], call
        if call.result == "ok":  # a change: at least one side holds a row (None: no row)
            assert (record["before"], record["after"]) != (None, None), call
        else:
            assert (record["before"], record["after"]) == (None, {"status": call.status}), call
        if call.path.startswith(f"/v1/users/{USER}"):
            assert record["subject"] == user_ref, call
        assert USER not in json.dumps(record), call


def test_each_change_records_the_state_before_and_after(api: Api) -> None:
    """The before/after of a done change are the registry rows it replaced and wrote."""
    a, b = api.artists[:2]
    link = {"artist_a": a, "artist_b": b, "kind": "block", "note": "not alike"}
    curator = api.headers("curator")
    assert api.client.post("/v1/curation/links", json=link, headers=curator).status_code == 200
    added = audit_records(api.state)[-1]
    assert (added["before"], added["after"]) == (None, {"kind": "block", "weight": 0.0})
    removed = api.client.delete(f"/v1/curation/links/{a}/{b}", headers=curator)
    assert removed.status_code == 200
    record = audit_records(api.state)[-1]
    assert record["before"]["kind"] == "block" and record["after"] is None
    exclusion = {"kind": "track", "id": api.track}
    app = api.headers("app")
    assert api.client.post(f"/v1/users/{USER}/exclusions", json=exclusion, headers=app).is_success
    record = audit_records(api.state)[-1]
    assert record["before"] == {"kind": "track", "id": api.track, "active": False}
    assert record["after"] == {"kind": "track", "id": api.track, "active": True}


# --- the staff command line ----------------------------------------------------------------


def _cli(state: Path, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """`recsys ...` in this process (the same entry point as the installed command)."""
    monkeypatch.setenv("RECSYS_STATE_DIR", str(state))
    monkeypatch.delenv("RECSYS_STORE", raising=False)
    return recsys_main(list(argv))


def _first_trusted(conn: sqlite3.Connection, kind: str) -> str:
    row = conn.execute(
        "SELECT MIN(subject_id) FROM trust_registry WHERE kind = ? AND trusted = 1", (kind,)
    ).fetchone()
    return str(row[0])


def test_every_staff_cli_change_writes_one_record_with_its_by_and_why(
    rebuilt: Rebuilt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    state = shutil.copytree(rebuilt.state, tmp_path / "state")
    conn = open_engine_state(state)
    try:
        artists = sorted(load_current_pool(conn, state).artists)
        label, partner = (_first_trusted(conn, kind) for kind in ("label", "partner"))
    finally:
        conn.close()
    a, b, c = artists[:3]
    track = "tr0000003"  # any id: a flag may name a track before its feed arrives
    staff = ("--by", "cora", "--why", "weekly curation")
    cases: list[tuple[tuple[str, ...], str, str]] = [
        (("links", "add", a, b, "--weight", "0.8", *staff), "links.similar", "curator"),
        (("links", "block", a, c, *staff), "links.block", "curator"),
        (("links", "remove", a, b, *staff), "links.remove", "curator"),
        (
            ("trust", "verify-artist", "ar-new", "--ahead-of-delivery", *staff),
            "trust.grant_artist",
            "trust",
        ),
        (("trust", "trust-label", label, *staff), "trust.grant_label", "trust"),
        (("trust", "trust-partner", partner, *staff), "trust.grant_partner", "trust"),
        (("trust", "revoke", "--artist", "ar-new", *staff), "trust.revoke_artist", "trust"),
        (
            ("flags", "add", track, "--source", "detector", "--score", "0.3", *staff),
            "flags.add",
            "trust",
        ),
        (("flags", "review", track, "--decision", "clear", *staff), "flags.review", "curator"),
        (("tokens", "add", "--name", "robot", "--role", "app", *staff), "tokens.add", "admin"),
        (("tokens", "revoke", "--name", "robot", *staff), "tokens.revoke", "admin"),
    ]
    for argv, action, role in cases:
        before = audit_records(state)
        started = datetime.now(UTC)
        assert _cli(state, monkeypatch, *argv) == 0, (argv, capsys.readouterr().err)
        after = audit_records(state)
        assert after[: len(before)] == before and len(after) == len(before) + 1, argv
        record = after[-1]
        assert (record["actor"], record["why"], record["role"]) == ("cora", staff[3], role), argv
        assert (record["action"], record["result"]) == (action, "ok"), argv
        assert record["after"] is not None or action == "links.remove", argv
        assert started - timedelta(seconds=1) <= datetime.fromisoformat(record["at"])
        assert datetime.fromisoformat(record["at"]) <= datetime.now(UTC)

    # A refused command changes nothing, so there is nothing to record: the command line is
    # not an authentication boundary (whoever runs it can open the state file anyway).
    refused = [
        ("links", "add", a, "ar-unknown", "--weight", "0.5", *staff),
        ("links", "remove", a, "ar-unknown", *staff),
        ("flags", "add", track, "--source", "detector", "--score", "1.5", *staff),
        ("trust", "verify-artist", "bad\x01id", *staff),
    ]
    for argv in refused:
        rows = audit_rows(state)
        assert _cli(state, monkeypatch, *argv) != 0, argv
        assert audit_rows(state) == rows, argv
    rows = audit_rows(state)
    with pytest.raises(SystemExit):  # no --why: argparse refuses before anything runs
        _cli(state, monkeypatch, "trust", "verify-artist", "ar-x", "--by", "cora")
    assert audit_rows(state) == rows


# --- append-only ---------------------------------------------------------------------------

ROW_ONE = (
    "(id, at, actor, role, action, subject, before, after, why, result)"
    " VALUES (1, 'x', 'nobody', 'admin', 'x', 'x', 'null', 'null', 'x', 'ok')"
)
REWRITES = [
    pytest.param("UPDATE audit_log SET actor = 'nobody'", id="update-all"),
    pytest.param("UPDATE audit_log SET why = 'nothing' WHERE id = 1", id="update-one"),
    pytest.param("DELETE FROM audit_log", id="delete-all"),
    pytest.param("DELETE FROM audit_log WHERE id = 1", id="delete-one"),
    pytest.param(f"INSERT OR REPLACE INTO audit_log {ROW_ONE}", id="insert-or-replace"),
    pytest.param(f"REPLACE INTO audit_log {ROW_ONE}", id="replace"),
    pytest.param(
        f"INSERT INTO audit_log {ROW_ONE} ON CONFLICT (id) DO UPDATE SET actor = 'nobody'",
        id="upsert",
    ),
]


@pytest.mark.parametrize("statement", REWRITES)
def test_the_database_refuses_to_rewrite_the_audit_log(
    rebuilt: Rebuilt, tmp_path: Path, statement: str
) -> None:
    state = shutil.copytree(rebuilt.state, tmp_path / "state")
    before = audit_rows(state)
    assert before  # the rebuild's imports were recorded: there is history to rewrite
    conn = sqlite3.connect(state / STATE_FILE, isolation_level=None)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    finally:
        conn.close()
    assert audit_rows(state) == before


def test_dropped_guards_are_back_when_the_state_is_next_opened(
    rebuilt: Rebuilt, tmp_path: Path
) -> None:
    state = shutil.copytree(rebuilt.state, tmp_path / "state")
    conn = sqlite3.connect(state / STATE_FILE, isolation_level=None)
    try:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        triggers = [r[0] for r in conn.execute(query)]
        assert len(triggers) >= 3
        for trigger in triggers:
            conn.execute(f'DROP TRIGGER "{trigger}"')
    finally:
        conn.close()
    open_engine_state(state).close()  # any command, server or rebuild opens it like this
    conn = sqlite3.connect(state / STATE_FILE, isolation_level=None)
    try:
        for param in REWRITES:
            (statement,) = param.values
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(str(statement))
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["api", "function"])
def test_erasure_and_rebuilds_keep_every_record_and_name_the_user_only_by_hash(
    rebuilt: Rebuilt, tmp_path: Path, how: str
) -> None:
    made = Api(shutil.copytree(rebuilt.state, tmp_path / "state"))
    state = made.state
    with made.client as client:
        # Records about the user, of a change and of a refusal, before they are erased.
        exclusion = {"kind": "artist", "id": made.artists[0]}
        path = f"/v1/users/{USER}/exclusions"
        assert client.post(path, json=exclusion, headers=made.headers("app")).is_success
        assert client.post(path, json=exclusion, headers=made.headers("curator")).status_code == 403
        earlier = audit_rows(state)
        if how == "api":
            erased = client.delete(f"/v1/users/{USER}", headers=made.headers("admin"))
            assert erased.status_code == 200
    if how == "function":
        settings = settings_for(state)
        conn, store = open_engine_state(state), open_store(settings)
        try:
            erase_user(conn, state, store, USER, actor="ada", role="admin", now=NOW)
        finally:
            store.close()
            conn.close()
    after_erasure = audit_rows(state)
    assert after_erasure[: len(earlier)] == earlier and len(after_erasure) == len(earlier) + 1

    trusted_rebuild(
        settings_for(state),
        rebuilt.data,
        NOW + timedelta(days=1),
        progress=lambda d, t: None,
        workers=1,
    )
    records = audit_records(state)
    assert audit_rows(state)[: len(after_erasure)] == after_erasure

    conn = open_engine_state(state)
    try:
        user_ref = f"user:{hash_user(user_hash_key(conn, NOW), USER)}"
    finally:
        conn.close()
    about_user = [r for r in records if r["subject"] == user_ref]
    assert [(r["action"], r["result"]) for r in about_user] == [
        ("exclusions.add", "ok"),
        ("exclusions.add", "denied"),
        ("users.erase", "ok"),
    ]
    erasure = about_user[-1]
    assert erasure["actor"] == ("test-admin" if how == "api" else "ada")
    assert erasure["role"] == "admin" and erasure["at"] == NOW.isoformat()
    assert erasure["before"] is None and erasure["after"]["user_exclusions"] == 1
    assert USER not in json.dumps(records)
    assert USER not in json.dumps(audit_rows(state))


def test_records_name_the_user_by_hash_even_when_logs_leave_users_out(
    rebuilt: Rebuilt, tmp_path: Path
) -> None:
    """``log_user_ids = "none"`` is about log lines; the trail must still say whom a record
    is about (by hash), or an erasure or exclusion could not be traced to its user."""
    state = shutil.copytree(rebuilt.state, tmp_path / "state")
    tokens = make_tokens(state)
    settings = settings_for(state)
    settings = replace(settings, serve=replace(settings.serve, log_user_ids="none"))
    app = create_app(settings, lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        artist = min(app.state.services.live.engine.context.graph.nodes)
        path = f"/v1/users/{USER}/exclusions"
        answer = client.post(
            path, json={"kind": "artist", "id": artist}, headers=bearer(tokens["app"])
        )
        assert answer.status_code == 200
    conn = open_engine_state(state)
    try:
        expected = f"user:{hash_user(user_hash_key(conn, NOW), USER)}"
    finally:
        conn.close()
    assert audit_records(state)[-1]["subject"] == expected
