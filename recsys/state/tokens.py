"""API tokens: a name and a role per bearer token, kept in the state, never in code.

Only a SHA-256 hash of a token is stored, so a copy of the state (a backup, a support bundle)
does not hand out working credentials; the token itself is shown once, when it is made. A
revoked token stays as a row for the audit trail, and its name can be given to a new token.
Every add and revoke writes its audit record in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from pool.audit import AuditEntry, append_audit
from pool.state import transaction
from recsys.errors import UsageError

Role = Literal["app", "curator", "trust", "admin"]
ROLES: frozenset[str] = frozenset({"app", "curator", "trust", "admin"})
TOKEN_PREFIX = "rst_"

TOKENS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('app', 'curator', 'trust', 'admin')),
    created_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    revoked_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name ON api_tokens (name) WHERE revoked = 0;
"""


@dataclass(frozen=True, slots=True)
class ApiToken:
    """What a token stands for; the secret itself is never kept."""

    name: str
    role: Role
    created_at: datetime
    revoked: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "revoked": self.revoked,
        }


def ensure_tokens_schema(conn: sqlite3.Connection) -> None:
    """Create the tokens table if this state predates it."""
    conn.executescript(TOKENS_SCHEMA)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_secret() -> str:
    """256 random bits; the prefix lets secret scanners recognise a leaked token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def add_token(
    conn: sqlite3.Connection, name: str, role: str, *, by: str, why: str, now: datetime
) -> str:
    """Make a token for ``name`` with ``role`` and return its secret (shown once)."""
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(sorted(ROLES))}, got {role!r}")
    secret = new_token_secret()
    with transaction(conn):
        taken = conn.execute(
            "SELECT 1 FROM api_tokens WHERE name = ? AND revoked = 0", (name,)
        ).fetchone()
        if taken is not None:
            raise UsageError(f"a token named {name!r} exists; revoke it first")
        conn.execute(
            "INSERT INTO api_tokens (token_hash, name, role, created_at) VALUES (?, ?, ?, ?)",
            (hash_token(secret), name, role, now.isoformat()),
        )
        append_audit(
            conn,
            AuditEntry(now, by, "admin", "tokens.add", f"token:{name}", None, {"role": role}, why),
        )
    return secret


def revoke_token(conn: sqlite3.Connection, name: str, *, by: str, why: str, now: datetime) -> bool:
    """Revoke the active token named ``name``; False when there is none."""
    with transaction(conn):
        row = conn.execute(
            "SELECT id, role FROM api_tokens WHERE name = ? AND revoked = 0", (name,)
        ).fetchone()
        if row is None:
            return False
        conn.execute(
            "UPDATE api_tokens SET revoked = 1, revoked_at = ? WHERE id = ?",
            (now.isoformat(), row[0]),
        )
        append_audit(
            conn,
            AuditEntry(
                now,
                by,
                "admin",
                "tokens.revoke",
                f"token:{name}",
                {"role": row[1], "revoked": False},
                {"role": row[1], "revoked": True},
                why,
            ),
        )
    return True


def find_token(conn: sqlite3.Connection, secret: str) -> ApiToken | None:
    """The active token with this secret, or None (unknown and revoked alike)."""
    row = conn.execute(
        "SELECT name, role, created_at FROM api_tokens WHERE token_hash = ? AND revoked = 0",
        (hash_token(secret),),
    ).fetchone()
    if row is None:
        return None
    return ApiToken(row[0], cast(Role, row[1]), datetime.fromisoformat(row[2]))


def list_tokens(conn: sqlite3.Connection) -> list[ApiToken]:
    return [
        ApiToken(name, cast(Role, role), datetime.fromisoformat(at), bool(revoked))
        for name, role, at, revoked in conn.execute(
            "SELECT name, role, created_at, revoked FROM api_tokens ORDER BY name, id"
        )
    ]
