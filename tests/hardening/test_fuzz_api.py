"""The HTTP API fuzzed from its own ``/openapi.json`` (schemathesis, in process over ASGI).

Every operation gets schema-valid and schema-breaking requests, once with an admin token (so
every endpoint is reachable past authentication) and once with none. Ids in paths, queries
and bodies are now and then swapped for ids the world knows (verified artists, pool tracks,
listeners), so the fuzz reaches the success paths and the checks behind validation too.

For each answer: never a 5xx; status, content type and body as ``/openapi.json`` documents
them; no Python traceback in the body; a secured endpoint never answers 2xx without a token;
and a refused request (any 4xx) leaves the state exactly as it was: the rows of every SQLite
table but the audit log (which records the refusal), the stored mixes, the model and pool
files.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.python.asgi import shutdown_lifespans

from recsys.api import create_app
from recsys.store.embedded import EmbeddedStore
from tests.recsys.api.world import (
    NOW,
    RebuiltWorld,
    bearer,
    copy_state,
    make_tokens,
    rebuild_world,
    settings_for,
)

DATABASES = ("state.sqlite3", "mixes.sqlite3")
# The audit log must grow on a refusal (the anonymous_refusals counts on one without a valid
# token); sqlite_sequence is the log's AUTOINCREMENT counter.
UNWATCHED_TABLES = frozenset({"audit_log", "anonymous_refusals", "sqlite_sequence"})
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "', '.py", line ')
CALLERS = ("admin", "no token")
CONFIG = SchemathesisConfig.from_dict({"generation": {"database": "none"}})
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=25,  # per operation and caller: the file stays near a minute on two cores
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass(frozen=True)
class KnownIds:
    """Ids the world holds, by the name of the parameter or body field that takes them."""

    by_name: dict[str, list[str]]

    @classmethod
    def of(cls, world: RebuiltWorld) -> KnownIds:
        truth = json.loads((world.data.parent / "data.truth.json").read_text())
        artists = truth["verified_artist_ids"][:6] + truth["unverified_artist_ids"][:2]
        tracks = (
            truth["expected_eligible_track_ids"][:4]
            + truth["detector_review_track_ids"][:2]
            + truth["taken_down_track_ids"][:1]
        )
        users = [f"u{n:07d}" for n in range(1, 6)] + truth["optout_user_ids"][:1]
        return cls(
            {
                "artist_id": artists,
                "artist_a": artists,
                "artist_b": artists,
                "track_id": tracks,
                "user_id": users,
                "id": artists[:3] + tracks[:3],
            }
        )


@dataclass
class StateWatch:
    """Digests of everything a request could change.

    A database is digested again only when ``PRAGMA data_version`` says another connection
    committed to it since the last look, so a read that writes nothing costs two pragmas;
    artefact files are compared by size and modification time."""

    state: Path
    connections: dict[str, sqlite3.Connection] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in DATABASES:
            conn = self.connections.get(name)
            if conn is None:
                uri = f"file:{self.state / name}?mode=ro"
                conn = self.connections[name] = sqlite3.connect(uri, uri=True)
            version = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if self.versions.get(name) != version:
                self.digests[name] = _digest_tables(conn, name)
                self.versions[name] = version
            found |= self.digests[name]
        for path in sorted(self.state.rglob("*")):
            if path.is_file() and not path.name.startswith(DATABASES):
                stat = path.stat()
                found[str(path.relative_to(self.state))] = (stat.st_size, stat.st_mtime_ns)
        return found

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()


def _digest_tables(conn: sqlite3.Connection, database: str) -> dict[str, str]:
    tables = [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name not in UNWATCHED_TABLES
    ]
    digests = {}
    for table in sorted(tables):
        digest = hashlib.sha256()
        for row in sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"'))):
            digest.update(row.encode())
        digests[f"{database}:{table}"] = digest.hexdigest()
    return digests


@dataclass(frozen=True)
class FuzzedApi:
    caller: str
    app: FastAPI
    headers: dict[str, str]
    watch: StateWatch
    known: KnownIds


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> RebuiltWorld:
    return rebuild_world(tmp_path_factory.mktemp("fuzz-world"))


@pytest.fixture(scope="module", params=CALLERS)
def fuzzed_api(
    request: pytest.FixtureRequest,
    fuzz_world: RebuiltWorld,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FuzzedApi]:
    """A copy of the world's state behind a real app; one per caller, so one caller's
    successful edits (an admin erasing a user) never change what the other sees."""
    state = copy_state(fuzz_world, tmp_path_factory.mktemp("fuzz-api") / "state")
    tokens = make_tokens(state)
    app = create_app(settings_for(state), lambda: NOW, store=EmbeddedStore(state))
    headers = bearer(tokens["admin"]) if request.param == "admin" else {}
    watch = StateWatch(state)
    yield FuzzedApi(request.param, app, headers, watch, KnownIds.of(fuzz_world))
    watch.close()
    shutdown_lifespans()  # runs the app's lifespan exit: closes its state and store


def _swap_in_known_ids(case: schemathesis.Case, known: KnownIds, data: st.DataObject) -> None:
    """Now and then replace a generated id by one the world holds (or a near miss of it)."""
    for values in (case.path_parameters, case.query, case.body):
        if not isinstance(values, dict):
            continue
        for name in list(values):
            ids = known.by_name.get(name)
            if ids and data.draw(st.integers(0, 2), label=f"swap {name}") == 0:
                values[name] = data.draw(
                    st.one_of(st.sampled_from(ids), st.sampled_from(ids).map(str.upper)),
                    label=name,
                )


def _check_one_call(case: schemathesis.Case, api: FuzzedApi) -> None:
    """Send one request as ``api``'s caller and check everything about the answer."""
    # The caller is the one under test: drop any Authorization value the generator made up.
    case.headers = {
        key: value for key, value in (case.headers or {}).items() if key.lower() != "authorization"
    }
    before = api.watch.snapshot()
    response = case.call(headers=api.headers)
    after = api.watch.snapshot()
    case.validate_response(response, checks=CHECKS)
    for mark in TRACEBACK_MARKS:
        assert mark not in response.text, f"a traceback reached the client: {response.text}"
    if api.caller == "no token" and case.operation.definition.raw.get("security"):
        assert not 200 <= response.status_code < 300, "a secured endpoint answered no token"
    if 400 <= response.status_code < 500:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not changed, f"a refused request ({response.status_code}) changed {changed}"


@pytest.mark.slow
def test_no_request_gets_a_500_a_traceback_or_a_partial_change(
    fuzzed_api: FuzzedApi, subtests: pytest.Subtests
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_api.app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16  # every endpoint of SPEC section 5, and /healthz
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @FUZZ_SETTINGS
        @given(case=cases, data=st.data())
        def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
            _swap_in_known_ids(case, fuzzed_api.known, data)
            _check_one_call(case, fuzzed_api)

        with subtests.test(msg=operation.label):
            fuzz()
