"""`recsys generate-world OUT --users N --artists N --seed S`: write a synthetic data directory."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from recsys.cli.command_context import CommandContext
from recsys.errors import UsageError
from recsys.world import WorldConfig, generate_world


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def add_parsers(commands: Any) -> None:
    world = commands.add_parser(
        "generate-world", help="write a synthetic world as a data directory (plus OUT.truth.json)"
    )
    world.add_argument("out", type=Path, metavar="OUT_DIR")
    world.add_argument("--users", type=_positive, required=True)
    world.add_argument("--artists", type=_positive, required=True)
    world.add_argument("--seed", type=int, required=True)
    world.add_argument(
        "--today", type=_day, help="the world's 'today' (default: the current UTC date)"
    )
    world.set_defaults(handler=run_generate_world)


def run_generate_world(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = WorldConfig(
        users=args.users,
        artists=args.artists,
        seed=args.seed,
        today=args.today or ctx.now.date(),
    )
    try:
        summary = generate_world(args.out, config)
    except ValueError as error:
        raise UsageError(str(error)) from None
    ctx.print_json({"out": str(args.out), "truth": f"{args.out}.truth.json", **summary})
    return 0
