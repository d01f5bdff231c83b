"""A corrupted file is one clear line: every state, store, pool and model file, damaged the way
disks and crashes damage them (a scribbled page, a file cut short), ends the CLI, and a
`recsys serve` starting on it, with exit status 1 and exactly one stderr line that names the
file and says what to do, never a traceback. Where the line says "rebuild", doing so repairs
the damage.

SQLite pages are scribbled in the middle of the file, found from the schema (the root page of
a table or index the command reads), so a change of schema cannot quietly move the damage to
a page no command reads.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pool.snapshot import REPORT_FILE, TRACKS_FILE
from pool.state import STATE_FILE
from recsys.embeddings.artist_model import META_FILE, MODEL_FILE
from recsys.listening.history import HISTORY_FILE
from recsys.store.embedded import STORE_FILE
from tests.recsys.api.world import RebuiltWorld, free_port, rebuild_world
from tests.recsys.cli_runner import CliResult, run_cli

pytestmark = pytest.mark.e2e

USER = "u0000001"
ARTIST = "ar000001"
REBUILD = "run `recsys rebuild --data DIR`"
POOL_BUILD = "run `recsys pool build --data DIR`"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> RebuiltWorld:
    built = rebuild_world(tmp_path_factory.mktemp("corrupt-files"))
    for command in (("similar", ARTIST), ("mixes", USER), ("pool", "show")):
        assert run_cli(*command, state_dir=built.state).code == 0  # sound before any damage
    return built


def _state_copy(world: RebuiltWorld, tmp_path: Path) -> Path:
    state = tmp_path / "state"
    shutil.copytree(world.state, state)
    return state


def _only(folder: Path) -> Path:
    (found,) = (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return found


def model_folder(state: Path) -> Path:
    return _only(state / "models")


def pool_folder(state: Path) -> Path:
    return _only(state / "pool")


# ---------------------------------------------------------------------------------------------
# Ways to damage a file.


def scribble_page(path: Path, table: str) -> Path:
    """Garbage over the root page of ``table`` (or index), a page in the middle of the file;
    the header page stays intact, so SQLite opens the file and finds the damage only at the
    first query that reads that page."""
    conn = sqlite3.connect(path)
    try:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
    finally:
        conn.close()
    assert 2 < root < pages, (root, pages)
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xa5\x5a" * (page_size // 2))
    return path


def scribble_header(path: Path) -> Path:
    """Garbage over the first bytes: SQLite no longer recognises the file at all."""
    with path.open("r+b") as file:
        file.write(b"\x00garbage" * 16)
    return path


def truncate(path: Path) -> Path:
    """The file cut at half its length, as a full disk or a crash mid-copy leaves it."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def scribble_middle(path: Path) -> Path:
    """64 bytes of garbage in the middle of the file, its length unchanged."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    return path


@dataclass(frozen=True)
class Case:
    damage: Callable[[Path], Path]  # damages a file of the state folder; returns its path
    command: tuple[str, ...]  # a command that reads the damaged part
    names: Callable[[Path, Path], list[str]]  # (state, file) -> what the line must name


def _file(state: Path, damaged: Path) -> list[str]:
    return [str(damaged)]


def _any_sqlite_file(state: Path, damaged: Path) -> list[str]:
    # SQLite does not say which file a damaged page is in: the line names the folder and both
    # of its SQLite files, and what to do for each.
    return [str(state), STATE_FILE, STORE_FILE, "restore it from a backup", "recsys rebuild"]


CASES = {
    "state page": Case(
        lambda state: scribble_page(state / STATE_FILE, "pointers"),
        ("similar", ARTIST),
        _any_sqlite_file,
    ),
    "state header": Case(
        lambda state: scribble_header(state / STATE_FILE),
        ("similar", ARTIST),
        lambda state, damaged: [str(damaged), "restore it from a backup"],
    ),
    "store page": Case(
        lambda state: scribble_page(state / STORE_FILE, "sqlite_autoindex_user_payloads_1"),
        ("mixes", USER),
        lambda state, damaged: [str(damaged), "delete it", REBUILD],
    ),
    "store header": Case(
        lambda state: scribble_header(state / STORE_FILE),
        ("mixes", USER),
        lambda state, damaged: [str(damaged), "delete it", REBUILD],
    ),
    "model truncated": Case(
        lambda state: truncate(model_folder(state) / MODEL_FILE),
        ("similar", ARTIST),
        lambda state, damaged: [str(damaged), REBUILD],
    ),
    "model scribbled": Case(
        lambda state: scribble_middle(model_folder(state) / MODEL_FILE),
        ("similar", ARTIST),
        lambda state, damaged: [str(damaged), REBUILD],
    ),
    "model meta truncated": Case(
        lambda state: truncate(model_folder(state) / META_FILE),
        ("similar", ARTIST),
        lambda state, damaged: [str(damaged), REBUILD],
    ),
    "history truncated": Case(
        lambda state: truncate(model_folder(state) / HISTORY_FILE),
        ("similar", ARTIST),
        lambda state, damaged: [str(damaged), REBUILD],
    ),
    "pool tracks truncated": Case(
        lambda state: truncate(pool_folder(state) / TRACKS_FILE),
        ("similar", ARTIST),
        lambda state, damaged: [str(damaged), str(damaged.parent), POOL_BUILD],
    ),
    "pool report truncated": Case(
        lambda state: truncate(pool_folder(state) / REPORT_FILE),
        ("pool", "show"),
        lambda state, damaged: [str(damaged), POOL_BUILD],
    ),
}


def assert_one_clear_line(result: CliResult, names: list[str]) -> str:
    assert "Traceback" not in result.err, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    (line,) = lines
    assert line.startswith("recsys: error: "), line
    for name in names:
        assert name in line, (name, line)
    assert result.code == 1, (result.code, line)
    return line


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_damaged_file_is_one_clear_line(world: RebuiltWorld, tmp_path: Path, case: str) -> None:
    state = _state_copy(world, tmp_path)
    spec = CASES[case]
    damaged = spec.damage(state)
    result = run_cli(*spec.command, state_dir=state)
    assert_one_clear_line(result, spec.names(state, damaged))


def test_a_server_starting_on_a_damaged_model_exits_with_one_line(
    world: RebuiltWorld, tmp_path: Path
) -> None:
    state = _state_copy(world, tmp_path)
    damaged = truncate(model_folder(state) / MODEL_FILE)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    environ["RECSYS_STATE_DIR"] = str(state)
    completed = subprocess.run(
        [sys.executable, "-m", "recsys", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    assert completed.stdout == ""  # it never announced that it serves
    assert_one_clear_line(
        CliResult(completed.returncode, completed.stdout, completed.stderr),
        [str(damaged), REBUILD],
    )


def test_the_rebuild_the_line_asks_for_repairs_a_damaged_model(
    world: RebuiltWorld, tmp_path: Path
) -> None:
    """A model folder is named by its content and kept as it is when the same inputs are
    trained again: a rebuild from the very same data must still replace a damaged copy."""
    state = _state_copy(world, tmp_path)
    damaged = scribble_middle(model_folder(state) / MODEL_FILE)
    assert_one_clear_line(run_cli("similar", ARTIST, state_dir=state), [str(damaged)])
    rebuilt = run_cli("rebuild", "--data", world.data, "--workers", "1", state_dir=state)
    assert rebuilt.code == 0, rebuilt.err
    assert model_folder(state) == damaged.parent  # the same version, written again
    assert run_cli("similar", ARTIST, state_dir=state).code == 0


def test_deleting_a_damaged_store_and_rebuilding_repairs_it(
    world: RebuiltWorld, tmp_path: Path
) -> None:
    state = _state_copy(world, tmp_path)
    scribble_page(state / STORE_FILE, "sqlite_autoindex_user_payloads_1")
    assert run_cli("mixes", USER, state_dir=state).code == 1
    for leftover in state.glob(f"{STORE_FILE}*"):  # the file, and its -wal and -shm if any
        leftover.unlink()
    rebuilt = run_cli("rebuild", "--data", world.data, "--workers", "1", state_dir=state)
    assert rebuilt.code == 0, rebuilt.err
    assert run_cli("mixes", USER, state_dir=state).code == 0


@pytest.mark.parametrize("name", [TRACKS_FILE, REPORT_FILE])
def test_the_pool_build_the_line_asks_for_repairs_a_damaged_snapshot(
    world: RebuiltWorld, tmp_path: Path, name: str
) -> None:
    """A snapshot folder is named by its content and kept when the same inputs are built
    again: a build from the very same data must still replace a damaged copy."""
    state = _state_copy(world, tmp_path)
    damaged = truncate(pool_folder(state) / name)
    command = ("similar", ARTIST) if name == TRACKS_FILE else ("pool", "show")
    assert_one_clear_line(run_cli(*command, state_dir=state), [str(damaged), POOL_BUILD])
    built = run_cli("pool", "build", "--data", world.data, state_dir=state)
    assert built.code == 0, built.err
    assert pool_folder(state) == damaged.parent  # the same version, written again
    assert run_cli(*command, state_dir=state).code == 0
