"""Console sessions in the state: they stand for a token and end with it, or when signed out
or expired; only hashes are kept."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recsys.state.console_sessions import (
    console_key,
    csrf_token,
    end_session,
    find_session,
    start_session,
)
from recsys.state.schema import open_engine_state
from recsys.state.tokens import add_token, revoke_token

AT = datetime(2026, 11, 1, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_engine_state(tmp_path / "state")
    yield connection
    connection.close()


def _token(conn: sqlite3.Connection, name: str = "cora", role: str = "curator") -> str:
    return add_token(conn, name, role, by="admin", why="test", now=AT)


def test_a_session_stands_for_its_token_until_it_expires(conn: sqlite3.Connection) -> None:
    started = start_session(conn, _token(conn), AT, HOUR)
    assert started is not None
    session_id, session = started
    assert (session.name, session.role, session.expires_at) == ("cora", "curator", AT + HOUR)
    assert find_session(conn, session_id, AT + HOUR / 2) == session
    assert find_session(conn, session_id, AT + HOUR) is None
    # Only its hash is stored.
    stored = [row[0] for row in conn.execute("SELECT session_hash FROM console_sessions")]
    assert session_id not in stored and len(stored) == 1


def test_unknown_and_revoked_tokens_get_no_session(conn: sqlite3.Connection) -> None:
    secret = _token(conn)
    assert start_session(conn, secret + "x", AT, HOUR) is None
    started = start_session(conn, secret, AT, HOUR)
    assert started is not None
    revoke_token(conn, "cora", by="admin", why="left the team", now=AT)
    assert find_session(conn, started[0], AT) is None
    assert start_session(conn, secret, AT, HOUR) is None


def test_signing_out_ends_the_session_for_every_copy(conn: sqlite3.Connection) -> None:
    started = start_session(conn, _token(conn), AT, HOUR)
    assert started is not None
    end_session(conn, started[0], AT)
    assert find_session(conn, started[0], AT) is None
    assert find_session(conn, "never-issued", AT) is None


def test_csrf_tokens_differ_per_session_and_key(conn: sqlite3.Connection) -> None:
    key = console_key(conn, AT)
    assert console_key(conn, AT + HOUR) == key  # made once, then read
    assert csrf_token(key, "s1") != csrf_token(key, "s2")
    assert csrf_token(key, "s1") != csrf_token(b"other" * 8, "s1")
