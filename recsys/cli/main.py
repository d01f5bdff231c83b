"""The `recsys` command line: parse, load settings once, read the clock once, dispatch.

Every expected failure (bad arguments, bad configuration, an unusable data directory, a damaged
state, store, pool or model file) ends as a one-line message on stderr and a non-zero exit
status, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pool.errors import PoolError, StateError
from pool.state import STATE_FILE
from recsys import __version__
from recsys.cli import (
    audit_commands,
    demo,
    evaluate_commands,
    flag_commands,
    link_commands,
    listener_commands,
    pool_commands,
    rebuild_commands,
    serve_commands,
    store_commands,
    train_commands,
    trust_commands,
    world_commands,
)
from recsys.cli.command_context import CommandContext
from recsys.cli.help_texts import add_common_options, finish_parsers
from recsys.errors import ConfigError, RecsysError, UsageError
from recsys.settings import load_settings
from recsys.store.embedded import STORE_FILE, is_damaged_database

STATE_DIR_ENV = "RECSYS_STATE_DIR"
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
log = logging.getLogger("recsys")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsys",
        description="Curated music recommendations from a trust-gated candidate pool.",
    )
    parser.add_argument("--version", action="version", version=f"recsys {__version__}")
    add_common_options(parser, on_verb=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        demo,
        world_commands,
        pool_commands,
        train_commands,
        evaluate_commands,
        rebuild_commands,
        store_commands,
        serve_commands,
        listener_commands,
        trust_commands,
        flag_commands,
        link_commands,
        audit_commands,
    ):
        module.add_parsers(commands)
    finish_parsers(parser)
    return parser


def damaged_state_message(state_dir: Path | None, error: sqlite3.Error) -> str:
    """What to do about a damaged SQLite file of the state folder. SQLite reports a damaged
    page at whichever later query reads it, without naming the file; the embedded store
    names its own (``CorruptFileError``), so what reaches here is nearly always the state."""
    where = f"under {state_dir}" if state_dir is not None else "of the state folder"
    return (
        f"a state or store file {where} ({STATE_FILE} or {STORE_FILE}) is damaged ({error}):"
        f" restore it from a backup, or for {STORE_FILE} delete it and run"
        " `recsys rebuild --data DIR`"
    )


def failure_message(error: RecsysError | PoolError, state_dir: Path | None) -> str:
    """The error's own message; but the state's "cannot open the state in DIR: file is not a
    database" says neither which file nor what to do, so a state error caused by a damaged
    SQLite file gets the line that names the state file and the way back."""
    cause = error.__cause__
    if (
        isinstance(error, StateError)
        and isinstance(cause, sqlite3.DatabaseError)
        and is_damaged_database(cause)
    ):
        where = state_dir / STATE_FILE if state_dir is not None else STATE_FILE
        return (
            f"the state file {where} is damaged ({cause}): restore it from a backup (it holds"
            " the trust registry, links, flags, tokens and the audit trail, which a rebuild"
            " cannot remake)"
        )
    return str(error)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    state_dir: Path | None = None
    environ = dict(os.environ)
    if args.state_dir is not None:
        # The same way in as RECSYS_STATE_DIR (a relative folder is the working directory's).
        environ[STATE_DIR_ENV] = str(args.state_dir)
    try:
        settings = load_settings(args.config, environ, Path.cwd())
        state_dir = settings.state_dir
        ctx = CommandContext(settings=settings, now=datetime.now(UTC))
        return int(args.handler(args, ctx))
    except sqlite3.DatabaseError as error:
        if not is_damaged_database(error):
            raise  # busy or locked (OperationalError), or a bug: not the file's fault
        print(f"recsys: error: {damaged_state_message(state_dir, error)}", file=sys.stderr)
        return EXIT_FAILURE
    except (UsageError, ConfigError) as error:
        print(f"recsys: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (RecsysError, PoolError) as error:
        print(f"recsys: error: {failure_message(error, state_dir)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("recsys: interrupted; nothing was half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILURE
