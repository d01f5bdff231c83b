"""Text UTF-8 cannot encode is bad input: 422 naming the field, or one error line on the CLI.

JSON allows a lone surrogate escape (``"\\ud800"``), and Python turns a command-line byte that
is not UTF-8 (``$'\\xfe'``) into one (``"\\udcfe"``). Such a string passes every check about
length or control characters, then fails where it is encoded: in SQLite, in the JSON
renderer, in the log. Defence: ``pool.fields`` (``check_text``, ``check_id``), shared by the
CLI, the feeds and the API's schemas, and ``recsys.api.errors.encodable`` for error details
that quote what was refused.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import Message

from recsys.api import create_app
from recsys.cli.main import main as recsys_main
from tests.recsys.api.world import NOW, RebuiltWorld, bearer, copy_state, make_tokens, settings_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

USER = "u0000001"
LONE = "a\ud800b"
# Every POST body of the API, valid, with the endpoint's path.
BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "links": (
        "/v1/curation/links",
        {"artist_a": "ar000001", "artist_b": "ar000002", "kind": "block", "note": "not alike"},
    ),
    "flags": (
        "/v1/flags",
        {"track_id": "tr0000001", "source": "detector", "score": 0.5, "note": "weekly scan"},
    ),
    "review": ("/v1/review/tr0000001", {"decision": "exclude", "note": "an AI voice"}),
    "exclusions": (f"/v1/users/{USER}/exclusions", {"kind": "track", "id": "tr0000001"}),
}
ACTIONS = {
    "links": "links.put",
    "flags": "flags.add",
    "review": "flags.review",
    "exclusions": "exclusions.add",
}
TEXT_FIELDS = [
    (endpoint, name)
    for endpoint, (_, body) in BODIES.items()
    for name, value in body.items()
    if isinstance(value, str)
]


class Served:
    def __init__(self, state: Path, app: FastAPI, client: TestClient, admin: str) -> None:
        self.state, self.app, self.client = state, app, client
        self.admin = bearer(admin)

    def audit(self) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.state / "state.sqlite3")
        try:
            query = "SELECT action, subject, why, result FROM audit_log ORDER BY id"
            return conn.execute(query).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def served(
    rebuilt_world: RebuiltWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    state = copy_state(rebuilt_world, tmp_path_factory.mktemp("unencodable") / "state")
    tokens = make_tokens(state)
    app = create_app(settings_for(state), lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Served(state, app, client, tokens["admin"])


def _post_raw(served: Served, path: str, body: dict[str, Any]) -> Any:
    """``body`` as JSON with ``\\uXXXX`` escapes, as a client would send a lone surrogate."""
    raw = json.dumps(body, ensure_ascii=True).encode("ascii")
    headers = served.admin | {"content-type": "application/json"}
    return served.client.post(path, content=raw, headers=headers)


@pytest.mark.parametrize(("endpoint", "name"), TEXT_FIELDS, ids=str)
def test_a_lone_surrogate_in_any_body_field_is_a_422_naming_it(
    served: Served, endpoint: str, name: str
) -> None:
    path, body = BODIES[endpoint]
    before = served.audit()
    answer = _post_raw(served, path, body | {name: LONE})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid" and answer.json()["field"] == name
    assert name in answer.json()["detail"]
    added = served.audit()[len(before) :]
    assert [(row[0], row[3]) for row in added] == [(ACTIONS[endpoint], "invalid")]
    assert "\ud800" not in added[0][2]  # the record quotes the refusal in a storable form


def test_a_lone_surrogate_as_a_key_refuses_the_body(served: Served) -> None:
    """A key is no field of the request: the body is what is named."""
    path, body = BODIES["flags"]
    answer = _post_raw(served, path, body | {"\ud800": 1})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "body"


def _asgi(app: FastAPI, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    """A request straight into the app, with ``path`` as given: HTTP servers percent-decode
    paths with replacement characters, so only the ASGI layer can carry a lone surrogate."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)
    status = next(int(m["status"]) for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


PATH_IDS = [
    ("GET", "/v1/users/{x}/mixes", "user_id"),
    ("GET", "/v1/users/{x}/release-radar", "user_id"),
    ("GET", "/v1/radio/artist/{x}", "artist_id"),
    ("GET", "/v1/radio/track/{x}", "track_id"),
    ("GET", "/v1/artists/{x}/similar", "artist_id"),
    ("POST", "/v1/review/{x}", "track_id"),
    ("DELETE", "/v1/curation/links/{x}/ar000002", "artist_a"),
    ("DELETE", "/v1/curation/links/ar000001/{x}", "artist_b"),
    ("DELETE", f"/v1/users/{USER}/exclusions/track/{{x}}", "id"),
    ("DELETE", "/v1/users/{x}/exclusions/track/tr0000001", "user_id"),
    ("DELETE", "/v1/users/{x}", "user_id"),
]


@pytest.mark.parametrize(("method", "template", "name"), PATH_IDS, ids=str)
def test_a_lone_surrogate_in_a_path_id_is_a_422_naming_it(
    served: Served, method: str, template: str, name: str
) -> None:
    before = served.audit()
    status, body = _asgi(served.app, method, template.format(x=LONE), served.admin)
    assert (status, body["field"]) == (422, name), body
    for row in served.audit()[len(before) :]:  # a refused mutating call's record ...
        assert row[3] == "invalid"
        assert "\ud800" not in "".join(row[:3])  # ... quotes nothing it could not store
    if template.startswith("/v1/users/{x}") and method != "GET":
        assert served.audit()[-1][1] == "user:(not valid UTF-8)"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users/%ED%A0%80/mixes",
        "/v1/radio/artist/ar000001?user_id=%ED%A0%80",
        "/v1/radio/track/%FE",
        "/v1/artists/ar000001/similar?limit=%ED%A0%80",
    ],
)
def test_bytes_that_are_not_utf8_in_a_path_or_query_are_no_500(served: Served, path: str) -> None:
    """Over HTTP, such bytes arrive as replacement characters: printable, encodable ids."""
    answer = served.client.get(path)
    assert answer.status_code in (200, 404, 422), answer.text


def test_the_why_of_a_link_removal_is_checked_too(served: Served) -> None:
    answer = served.client.delete(
        "/v1/curation/links/ar000001/ar000002?why=%ED%A0%80", headers=served.admin
    )
    assert answer.status_code in (404, 422), answer.text  # no such link; never a 500


# --- the command line ------------------------------------------------------------------------

NOT_UTF8 = "\udcfe"  # what Python makes of the argument $'\xfe'
STAFF = ("--by", "cora", "--why", "weekly curation")
COMMANDS = [
    ("trust", "verify-artist", "ar1", "--by", "cora", "--why", NOT_UTF8),
    ("trust", "verify-artist", "ar1", "--by", NOT_UTF8, "--why", "checked"),
    ("trust", "verify-artist", NOT_UTF8, *STAFF),
    ("links", "block", NOT_UTF8, "ar2", *STAFF),
    ("links", "block", "ar1", "ar2", "--by", "cora", "--why", f"x{NOT_UTF8}"),
    (
        "flags",
        "add",
        "tr1",
        "--source",
        "detector",
        "--score",
        "0.5",
        "--by",
        "a",
        "--why",
        NOT_UTF8,
    ),
    ("flags", "review", "tr1", "--decision", "clear", "--by", "a", "--why", NOT_UTF8),
    ("tokens", "add", "--name", NOT_UTF8, "--role", "app", *STAFF),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_the_cli_refuses_text_that_is_not_utf8_in_one_line(
    argv: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECSYS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("RECSYS_STORE", raising=False)
    status = recsys_main(list(argv))
    err = capsys.readouterr().err
    assert status in (1, 2), err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recsys: error: "), err
    assert "UTF-8" in lines[0]
