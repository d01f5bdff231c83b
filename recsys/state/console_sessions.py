"""Console sessions: a signed-in curator's browser, kept server-side in the state.

A session is made by signing in with a staff token and stands for that token: each page
checks the session *and* the token, so revoking a token (``recsys tokens revoke``) signs its
sessions out at their next request, and signing out ends the session for good even if its
cookie was copied. Only a hash of the session id is stored, as with tokens, so a copy of the
state hands out no working session. The key that signs cookies and derives CSRF tokens lives
in the state too, so every server process over one state agrees on it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from pool.state import get_pointer, set_pointer, transaction
from recsys.state.tokens import Role, hash_token

SESSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS console_sessions (
    session_hash TEXT PRIMARY KEY,
    token_id INTEGER NOT NULL REFERENCES api_tokens (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);
"""
KEY_POINTER = "console.session_key"


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """Who a live session stands for, and until when."""

    name: str
    role: Role
    expires_at: datetime


def ensure_sessions_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SESSIONS_SCHEMA)


def console_key(conn: sqlite3.Connection, now: datetime) -> bytes:
    """The state's secret for signing session cookies and CSRF tokens, made on first use."""
    key = get_pointer(conn, KEY_POINTER)
    if key is None:
        with transaction(conn):
            # Another process may have made it meanwhile: the first one wins.
            key = get_pointer(conn, KEY_POINTER)
            if key is None:
                key = secrets.token_hex(32)
                set_pointer(conn, KEY_POINTER, key, now)
    return bytes.fromhex(key)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(
    conn: sqlite3.Connection, token_secret: str, now: datetime, lifetime: timedelta
) -> tuple[str, ConsoleSession] | None:
    """A new session for the active token ``token_secret``: (its id, for the cookie, and
    whom it stands for); None when the token is unknown or revoked."""
    row = conn.execute(
        "SELECT id, name, role FROM api_tokens WHERE token_hash = ? AND revoked = 0",
        (hash_token(token_secret),),
    ).fetchone()
    if row is None:
        return None
    session_id = secrets.token_urlsafe(32)
    expires = now + lifetime
    with transaction(conn):
        conn.execute(
            "INSERT INTO console_sessions (session_hash, token_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (_hash(session_id), row[0], now.isoformat(), expires.isoformat()),
        )
    return session_id, ConsoleSession(row[1], cast(Role, row[2]), expires)


def find_session(conn: sqlite3.Connection, session_id: str, now: datetime) -> ConsoleSession | None:
    """The live session ``session_id`` names: not ended, not expired, its token active."""
    row = conn.execute(
        "SELECT t.name, t.role, s.expires_at FROM console_sessions s"
        " JOIN api_tokens t ON t.id = s.token_id"
        " WHERE s.session_hash = ? AND s.ended_at IS NULL AND t.revoked = 0",
        (_hash(session_id),),
    ).fetchone()
    if row is None:
        return None
    expires = datetime.fromisoformat(row[2])
    if now >= expires:
        return None
    return ConsoleSession(row[0], cast(Role, row[1]), expires)


def end_session(conn: sqlite3.Connection, session_id: str, now: datetime) -> None:
    """Sign out: the session answers no more, whatever copies of its cookie exist."""
    with transaction(conn):
        conn.execute(
            "UPDATE console_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
            (now.isoformat(), _hash(session_id)),
        )
        # Sessions long over are of no use to anyone: keep the table small.
        conn.execute(
            "DELETE FROM console_sessions WHERE expires_at < ?",
            ((now - timedelta(days=30)).isoformat(),),
        )


def csrf_token(key: bytes, session_id: str) -> str:
    """The CSRF token of one session: forms carry it, and only pages of this session (which
    an attacker's page cannot read) know it."""
    return hmac.new(key, b"csrf\0" + session_id.encode(), hashlib.sha256).hexdigest()
