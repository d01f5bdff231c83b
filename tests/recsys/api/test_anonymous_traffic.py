"""Anonymous traffic costs bounded work: no body read before the token is checked, and no
record per refused call without a valid token (a counted row per endpoint and minute).

Defences: ``recsys.api.auth.AuthFirstRoute`` (authentication before the body is received)
and ``recsys.api.trail`` with ``pool.audit.count_anonymous_refusal`` (the counted rows).
A known token refused for its role (403) keeps its own full audit record.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import Message

from recsys.api import create_app
from tests.recsys.api.world import (
    NOW,
    RebuiltWorld,
    bearer,
    copy_state,
    free_port,
    make_tokens,
    settings_for,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

USER = "u0000001"
# Every staff or app endpoint that takes a body, with a body that would pass validation.
BODY_ROUTES: list[tuple[str, dict[str, Any], str]] = [
    (
        "/v1/curation/links",
        {"artist_a": "a1", "artist_b": "a2", "kind": "block", "note": "x"},
        "curator",
    ),
    ("/v1/flags", {"track_id": "t1", "source": "detector", "score": 0.5}, "trust"),
    ("/v1/review/t1", {"decision": "exclude", "note": "x"}, "curator"),
    (f"/v1/users/{USER}/exclusions", {"kind": "track", "id": "t1"}, "app"),
]
IDS = ["links", "flags", "review", "exclusions"]
CHUNKS = 100
WRONG_ROLE = {"curator": "app", "trust": "curator", "app": "trust"}


@dataclass
class Clock:
    """The app's clock, moved by the test."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Served:
    state: Path
    tokens: dict[str, str]
    app: FastAPI
    client: TestClient
    clock: Clock = field(default_factory=Clock)

    def count(self, table: str) -> int:
        conn = sqlite3.connect(self.state / "state.sqlite3")
        try:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        finally:
            conn.close()

    def counted(self) -> int:
        conn = sqlite3.connect(self.state / "state.sqlite3")
        try:
            query = "SELECT COALESCE(SUM(count), 0) FROM anonymous_refusals"
            return int(conn.execute(query).fetchone()[0])
        finally:
            conn.close()


@pytest.fixture
def served(rebuilt_world: RebuiltWorld, tmp_path: Path) -> Iterator[Served]:
    state = copy_state(rebuilt_world, tmp_path / "state")
    tokens = make_tokens(state)
    clock = Clock()
    app = create_app(settings_for(state), clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Served(state, tokens, app, client, clock)


# --- authentication before the body ----------------------------------------------------------


def _call_asgi(app: FastAPI, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """POST ``path`` straight into the ASGI app with a body of 100 chunks (announced as
    10 MB); returns the status and how many times the app asked for the body (``receive``)."""
    asked = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal asked
        asked += 1
        await anyio.lowlevel.checkpoint()
        return {"type": "http.request", "body": b"{" * 1024, "more_body": asked < CHUNKS}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", b"10000000"),
            *headers,
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }

    async def call() -> None:
        with anyio.fail_after(30):
            await app(scope, receive, send)

    anyio.run(call)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return int(start["status"]), asked


@pytest.mark.parametrize(("path", "body", "role"), BODY_ROUTES, ids=IDS)
def test_a_refused_caller_is_answered_before_the_body_is_received(
    served: Served, path: str, body: dict[str, Any], role: str
) -> None:
    no_token: list[tuple[bytes, bytes]] = []
    forged = [(b"authorization", b"Bearer rst_not-a-token-anyone-was-given")]
    wrong = [(b"authorization", f"Bearer {served.tokens[WRONG_ROLE[role]]}".encode())]
    assert _call_asgi(served.app, path, no_token) == (401, 0)
    assert _call_asgi(served.app, path, forged) == (401, 0)
    assert _call_asgi(served.app, path, wrong) == (403, 0)


@pytest.mark.parametrize(("path", "body", "role"), BODY_ROUTES, ids=IDS)
def test_an_anonymous_bad_body_is_401_not_422(
    served: Served, path: str, body: dict[str, Any], role: str
) -> None:
    """The token is checked first: a body that fails to parse never gets that far."""
    junk = {"content-type": "application/json"}
    answer = served.client.post(path, content=b"{not json", headers=junk)
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    # With the right token the same body is the documented 422 naming it.
    answer = served.client.post(
        path, content=b"{not json", headers=junk | bearer(served.tokens[role])
    )
    assert answer.status_code == 422 and answer.json()["field"] == "body"


def test_a_body_that_never_arrives_is_refused_at_once_over_http(served: Served) -> None:
    """Over a real socket: headers announcing 1 GB, a few bytes, then nothing; the 401
    comes back without the server waiting for the rest."""
    port = free_port()
    config = uvicorn.Config(served.app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/flags HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000000000\r\n\r\n{"track_id": '
            )
            sock.settimeout(5)  # without the defence: no answer until the body is complete
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- bounded records -------------------------------------------------------------------------


def test_a_thousand_anonymous_refusals_add_a_handful_of_rows(served: Served) -> None:
    client = served.client
    audit_rows, counted_rows = served.count("audit_log"), served.count("anonymous_refusals")
    calls = [
        ("POST", "/v1/flags", {"track_id": "t1", "source": "detector", "score": 1.0}),
        ("POST", "/v1/curation/links", {"kind": "block"}),
        ("DELETE", f"/v1/users/{USER}", None),
        ("GET", "/v1/audit", None),
    ]
    for n in range(1000):
        method, path, body = calls[n % len(calls)]
        headers = bearer(f"rst_guess-{n}") if (n // len(calls)) % 2 else {}
        if n == 500:  # the minute turns: new rows, still per endpoint and reason
            served.clock.now = NOW + timedelta(minutes=1)
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 401, answer.text
    assert served.count("audit_log") == audit_rows  # no record per anonymous call
    added = served.count("anonymous_refusals") - counted_rows
    assert added <= 2 * len(calls) * 2  # minutes x endpoints x reasons
    assert served.counted() == 1000  # every one of them is counted

    # They are visible to an admin, per minute, endpoint and reason.
    trail = client.get("/v1/audit", headers=bearer(served.tokens["admin"])).json()
    rows = trail["anonymous_refusals"]
    assert sum(row["count"] for row in rows) == 1000
    flags = [r for r in rows if r["action"] == "flags.add" and r["minute"] == NOW.isoformat()]
    assert {(r["reason"], r["count"]) for r in flags} == {("no token", 63), ("unknown token", 62)}
    later = client.get(
        "/v1/audit",
        params={"since": (NOW + timedelta(minutes=1, seconds=30)).isoformat()},
        headers=bearer(served.tokens["admin"]),
    ).json()["anonymous_refusals"]
    assert sum(row["count"] for row in later) == 500  # the minute holding `since` included


def test_every_refused_call_of_a_known_token_keeps_its_own_record(served: Served) -> None:
    audit_rows, counted = served.count("audit_log"), served.counted()
    curator = bearer(served.tokens["curator"])
    for _ in range(25):
        flag = {"track_id": "t1", "source": "detector", "score": 1.0}
        assert served.client.post("/v1/flags", json=flag, headers=curator).status_code == 403
    assert served.count("audit_log") == audit_rows + 25
    assert served.counted() == counted


def test_counts_only_grow(served: Served) -> None:
    served.client.post("/v1/flags", json={})
    conn = sqlite3.connect(served.state / "state.sqlite3", isolation_level=None)
    try:
        for statement in (
            "UPDATE anonymous_refusals SET count = 0",
            "UPDATE anonymous_refusals SET count = count + 1, action = 'other'",
            "DELETE FROM anonymous_refusals",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="only grow"):
                conn.execute(statement)
        conn.execute("UPDATE anonymous_refusals SET count = count + 1")  # how counting works
    finally:
        conn.close()
