"""Errors raised below the API answer their documented status, never a traceback or a 500:
an erased user 410, a refused review 409, a damaged file 503 ``corrupt_state``.

The mapping is ``recsys.api.app.install_error_handlers``; the errors are raised by the
layers below (``recsys.state.users``, ``pool.state.record_review``, the files' readers), so
here each is raised where the route calls that layer.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from pool.errors import ReviewRefusedError
from recsys.api import create_app, routes_staff, routes_users
from recsys.api.errors import ApiError
from recsys.api.responses import json_response
from recsys.errors import CorruptFileError, UserErasedError
from recsys.serving import answers
from tests.recsys.api.world import NOW, RebuiltWorld, bearer, copy_state, make_tokens, settings_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

USER = "u0000001"


@dataclass
class Served:
    state: Path
    tokens: dict[str, str]
    client: TestClient

    def headers(self, role: str) -> dict[str, str]:
        return bearer(self.tokens[role])

    def last_audit(self) -> tuple[Any, ...]:
        conn = sqlite3.connect(self.state / "state.sqlite3")
        try:
            query = "SELECT actor, action, subject, why, result FROM audit_log ORDER BY id DESC"
            return tuple(conn.execute(query).fetchone())
        finally:
            conn.close()


@pytest.fixture
def served(rebuilt_world: RebuiltWorld, tmp_path: Path) -> Iterator[Served]:
    state = copy_state(rebuilt_world, tmp_path / "state")
    tokens = make_tokens(state)
    app = create_app(settings_for(state), lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Served(state, tokens, client)


def _raises(error: Exception) -> Any:
    def raise_it(*args: object, **kwargs: object) -> NoReturn:
        raise error

    return raise_it


def test_a_write_for_an_erased_user_is_410_and_the_trail_keeps_no_raw_id(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = f"user {USER} was erased"  # whatever the layer below says, the id stays out
    monkeypatch.setattr(routes_users, "set_exclusion", _raises(UserErasedError(message)))
    answer = served.client.post(
        f"/v1/users/{USER}/exclusions",
        json={"kind": "track", "id": "tr0000001"},
        headers=served.headers("app"),
    )
    assert answer.status_code == 410, answer.text
    assert answer.json()["error"] == "erased" and USER not in answer.text
    actor, action, subject, why, result = served.last_audit()
    assert (actor, action, result) == ("test-app", "exclusions.add", "invalid")
    assert USER not in subject + why


def test_a_review_the_rules_refuse_is_409(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    refusal = ReviewRefusedError("track tr0000001: its label flagged it; a clear cannot override")
    monkeypatch.setattr(routes_staff, "record_review", _raises(refusal))
    answer = served.client.post(
        "/v1/review/tr0000001",
        json={"decision": "clear", "note": "a human voice"},
        headers=served.headers("curator"),
    )
    assert answer.status_code == 409, answer.text
    assert answer.json() == {"error": "conflict", "detail": str(refusal)}
    assert served.last_audit()[1:] == (
        "flags.review",
        "tr0000001",
        str(refusal),
        "invalid",
    )


def test_a_damaged_file_is_503_corrupt_state_naming_it_without_the_servers_path(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = served.state / "models" / "m1" / "factors.npy"
    error = CorruptFileError(f"{damaged} is truncated: run `recsys rebuild`")
    monkeypatch.setattr(answers, "similar", _raises(error))
    answer = served.client.get("/v1/artists/ar000001/similar")
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == "corrupt_state"
    assert (
        body["detail"]
        == "$RECSYS_STATE_DIR/models/m1/factors.npy is truncated: run `recsys rebuild`"
    )
    assert "Traceback" not in answer.text


def test_sqlites_own_word_for_a_damaged_file_is_503_corrupt_state(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        answers, "similar", _raises(sqlite3.DatabaseError("file is not a database"))
    )
    answer = served.client.get("/v1/artists/ar000001/similar")
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == "corrupt_state"
    assert "file is not a database" in body["detail"] and "backup" in body["detail"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (sqlite3.OperationalError("database is locked"), 503, "state_unavailable"),
        (sqlite3.IntegrityError("the audit log is append-only"), 500, "internal"),
        (sqlite3.ProgrammingError("Cannot operate on a closed database."), 500, "internal"),
    ],
    ids=["busy", "constraint", "misuse"],
)
def test_other_sqlite_errors_are_not_taken_for_damage(
    served: Served, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, code: str
) -> None:
    """A busy state is a wait; a constraint or a misuse is a bug (logged, 500): telling an
    operator to restore a backup for either would mislead."""
    monkeypatch.setattr(answers, "similar", _raises(error))
    answer = served.client.get("/v1/artists/ar000001/similar")
    assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text


def test_an_error_quoting_unencodable_text_still_renders() -> None:
    """A detail or field quoting a refused lone surrogate is escaped, so it renders as JSON
    and can be written to the audit trail (both UTF-8)."""
    error = ApiError(422, "invalid", "field '\ud800': got '\udcfe'", field="\ud800")
    rendered = json.loads(bytes(json_response(error.body(), error.status).body))
    assert rendered == {
        "error": "invalid",
        "detail": "field '\\ud800': got '\\udcfe'",
        "field": "\\ud800",
    }
