"""The `recsys` command line: parse, load settings once, read the clock once, dispatch.

Every expected failure (bad arguments, bad configuration, an unusable data directory) ends as a
one-line message on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pool.errors import PoolError
from recsys import __version__
from recsys.commands import (
    audit_commands,
    demo,
    evaluate_commands,
    flag_commands,
    link_commands,
    listener_commands,
    pool_commands,
    rebuild_commands,
    serve_commands,
    train_commands,
    trust_commands,
    world_commands,
)
from recsys.commands.context import CommandContext
from recsys.errors import ConfigError, RecsysError, UsageError
from recsys.settings import load_settings

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
    parser.add_argument("--config", type=Path, help="a TOML file overriding config/default.toml")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        demo,
        world_commands,
        pool_commands,
        train_commands,
        evaluate_commands,
        rebuild_commands,
        serve_commands,
        listener_commands,
        trust_commands,
        flag_commands,
        link_commands,
        audit_commands,
    ):
        module.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(args.config, os.environ, Path.cwd())
        ctx = CommandContext(settings=settings, now=datetime.now(UTC))
        return int(args.handler(args, ctx))
    except (UsageError, ConfigError) as error:
        print(f"recsys: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (RecsysError, PoolError) as error:
        print(f"recsys: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("recsys: interrupted; nothing was half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILURE
