from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pool.state import open_state

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def conn(state_dir: Path) -> Iterator[sqlite3.Connection]:
    connection = open_state(state_dir)
    yield connection
    connection.close()
