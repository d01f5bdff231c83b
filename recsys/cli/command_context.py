"""What every command handler receives: typed settings and the moment the command started.

The clock is read once, by the CLI entry point, so handlers and the core below them take time
as a value.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from pool.fields import FieldError, check_id, check_text
from pool.importer import current_pool_version
from pool.state import STATE_FILE
from recsys.errors import NothingBuiltError, UsageError
from recsys.settings import Settings
from recsys.state.schema import open_engine_state

# What fills a state folder, as every "nothing here yet" message says.
FILL_COMMAND = "recsys rebuild --data DIR"


def nothing_built(what: str, state_dir: Path) -> NothingBuiltError:
    """The error of a read that found ``what`` missing in ``state_dir``: where it looked, the
    command that fills the folder, and how to look elsewhere."""
    return NothingBuiltError(
        f"{what} in {state_dir}: run `{FILL_COMMAND}` to fill it (or `recsys demo`, then"
        " the commands it prints); to use another state folder, give --state-dir DIR or"
        " set RECSYS_STATE_DIR"
    )


@dataclass(frozen=True, slots=True)
class CommandContext:
    settings: Settings
    now: datetime
    out: TextIO = sys.stdout

    def open_state(self) -> sqlite3.Connection:
        """The state for a command that writes to it (made if it is not there yet)."""
        return open_engine_state(self.settings.state_dir)

    def open_existing_state(self) -> sqlite3.Connection:
        """The state for a command that only reads: a read never creates a state folder or
        file; it says where it looked instead (``NothingBuiltError``)."""
        state_dir = self.settings.state_dir
        if not (state_dir / STATE_FILE).is_file():
            raise nothing_built("nothing has been built yet (no state folder)", state_dir)
        return open_engine_state(state_dir)

    def open_state_with_pool(self) -> sqlite3.Connection:
        """``open_existing_state``, for a read that needs a published pool."""
        conn = self.open_existing_state()
        if current_pool_version(conn) is None:
            conn.close()
            raise nothing_built("no pool has been built yet", self.settings.state_dir)
        return conn

    def print_json(self, value: Any) -> None:
        self.out.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")


def valid_id(value: str, what: str) -> str:
    """An id from the command line, checked like a feed id so bad input never reaches the state."""
    try:
        return check_id(value, what)
    except FieldError as error:
        raise UsageError(str(error)) from None


def valid_text(value: str, what: str) -> str:
    try:
        return check_text(value, what)
    except FieldError as error:
        raise UsageError(str(error)) from None


def iso_day(text: str) -> date:
    """An argparse type for a ``YYYY-MM-DD`` option (``--today``): a bad date is a usage
    error naming the value, never a traceback."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def add_allow_shrink_argument(parser: argparse.ArgumentParser) -> None:
    """``--allow-shrink`` of the commands that publish a pool (``Settings.max_shrink``)."""
    parser.add_argument(
        "--allow-shrink",
        action="store_true",
        help="publish even if the pool drops more than pool.max_shrink of its tracks",
    )
