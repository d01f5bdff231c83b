"""API tokens in the state: only hashes kept, one active token per name, audited changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pool.audit import read_audit
from recsys.errors import UsageError
from recsys.state.schema import open_engine_state
from recsys.state.tokens import (
    TOKEN_PREFIX,
    add_token,
    ensure_tokens_schema,
    find_token,
    hash_token,
    list_tokens,
    revoke_token,
)
from tests.recsys.api.world import NOW
from tests.recsys.cli_runner import run_cli


@pytest.fixture
def state(tmp_path: Path) -> Path:
    conn = open_engine_state(tmp_path / "state")
    ensure_tokens_schema(conn)
    conn.close()
    return tmp_path / "state"


def test_a_token_is_kept_only_as_a_hash(state: Path) -> None:
    conn = open_engine_state(state)
    try:
        secret = add_token(conn, "mobile-app", "app", by="ops", why="launch", now=NOW)
        found = find_token(conn, secret)
        rows = conn.execute("SELECT * FROM api_tokens").fetchall()
    finally:
        conn.close()
    assert secret.startswith(TOKEN_PREFIX) and len(secret) > 40
    assert found is not None and (found.name, found.role) == ("mobile-app", "app")
    assert secret not in str(rows) and hash_token(secret) in str(rows)
    assert secret.encode() not in (state / "state.sqlite3").read_bytes()


def test_one_active_token_per_name_and_revocation(state: Path) -> None:
    conn = open_engine_state(state)
    try:
        first = add_token(conn, "ana", "curator", by="ops", why="hired", now=NOW)
        with pytest.raises(UsageError, match="exists"):
            add_token(conn, "ana", "admin", by="ops", why="again", now=NOW)
        with pytest.raises(UsageError, match="role"):
            add_token(conn, "bob", "root", by="ops", why="nope", now=NOW)
        assert revoke_token(conn, "ana", by="ops", why="left", now=NOW)
        assert not revoke_token(conn, "ana", by="ops", why="twice", now=NOW)
        assert find_token(conn, first) is None
        second = add_token(conn, "ana", "curator", by="ops", why="back", now=NOW)
        assert find_token(conn, second) is not None
        assert [(t.name, t.revoked) for t in list_tokens(conn)] == [("ana", True), ("ana", False)]
        actions = [(e.action, e.actor, e.subject) for e in read_audit(conn)]
    finally:
        conn.close()
    assert actions == [
        ("tokens.add", "ops", "token:ana"),
        ("tokens.revoke", "ops", "token:ana"),
        ("tokens.add", "ops", "token:ana"),
    ]


def test_the_tokens_command_prints_a_token_once_and_lists_none(tmp_path: Path) -> None:
    state = tmp_path / "state"
    added = run_cli("tokens", "add", "--name", "curator-ana", "--role", "curator", state_dir=state)
    assert added.code == 0, added.err
    secret = json.loads(added.out)["token"]
    listed = run_cli("tokens", "list", state_dir=state)
    assert listed.code == 0 and "curator-ana" in listed.out and secret not in listed.out
    assert run_cli("tokens", "revoke", "--name", "curator-ana", state_dir=state).code == 0
    missing = run_cli("tokens", "revoke", "--name", "curator-ana", state_dir=state)
    assert missing.code == 2 and "no active token" in missing.err
    bad_role = run_cli("tokens", "add", "--name", "x", "--role", "root", state_dir=state)
    assert bad_role.code == 2
    # For a shell: TOKEN=$(recsys tokens add ... --secret-only) holds the token and nothing else.
    bare = run_cli(
        "tokens",
        "add",
        "--name",
        "curator-bo",
        "--role",
        "curator",
        "--secret-only",
        state_dir=state,
    )
    assert bare.code == 0, bare.err
    token = bare.out.strip()
    assert bare.out == token + "\n" and token.startswith(TOKEN_PREFIX)
    conn = open_engine_state(state)
    try:
        found = find_token(conn, token)
    finally:
        conn.close()
    assert found is not None and found.name == "curator-bo"
