"""The engine's view of the embedded state: the pool's tables plus the engine's own.

One SQLite database holds both, so a staff edit and its audit record always share a
transaction. Only this module knows every schema the engine adds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pool.errors import StateError
from pool.state import open_state
from recsys.curation.store import LINKS_SCHEMA
from recsys.state.console_sessions import SESSIONS_SCHEMA
from recsys.state.privacy import PRIVACY_SCHEMA
from recsys.state.tokens import TOKENS_SCHEMA
from recsys.state.users import USER_SCHEMA

ENGINE_SCHEMAS = (LINKS_SCHEMA, USER_SCHEMA, PRIVACY_SCHEMA, TOKENS_SCHEMA, SESSIONS_SCHEMA)


def open_engine_state(state_dir: Path) -> sqlite3.Connection:
    conn = open_state(state_dir)
    try:
        for schema in ENGINE_SCHEMAS:
            conn.executescript(schema)
    except sqlite3.Error as error:
        conn.close()
        raise StateError(f"cannot prepare the state in {state_dir}: {error}") from error
    return conn
