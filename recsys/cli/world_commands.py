"""`recsys generate-world`: write a data directory (docs/contract.md section 2).

Two modes of one verb, because both answer "give me a data directory to run the engine on":

* synthetic: ``recsys generate-world OUT_DIR --users N --artists N --seed S`` draws a world
  (and writes ``OUT_DIR.truth.json`` beside it);
* from real listening: ``recsys generate-world --from-hetrec HETREC_DIR --seed S OUT_DIR``
  dresses hetrec2011-lastfm-2k up as a data directory with a seeded 80/20 holdout
  (``recsys.evaluation.hetrec_data_dir``), for ``recsys evaluate --data OUT_DIR``.

The synthetic world's size options mean nothing for hetrec (its size is the data set's), so
giving them with ``--from-hetrec`` is a usage error rather than silently ignored.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from recsys.cli.command_context import CommandContext, iso_day
from recsys.errors import UsageError
from recsys.evaluation.hetrec_data_dir import HetrecWorldConfig, build_hetrec_data_dir
from recsys.world import WorldConfig, generate_world

__all__ = ["add_parsers", "run_generate_world"]

HETREC_HELP = (
    "build the directory from the hetrec2011-lastfm-2k folder HETREC_DIR instead of a synthetic "
    "world: every artist verified, one trusted partner and 60 trusted labels, 3 tracks per "
    "artist (a tenth released in the last 14 days), tags from user_taggedartists.dat; each "
    "listener's (user, artist) pairs split 80/20 by --seed: the 80%% become listens/ rows over "
    "the year before --today (at most 90 plays a day: heavier listeners are scaled down to "
    "fit), the 20%% go to holdout.csv only"
)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_parsers(commands: Any) -> None:
    world = commands.add_parser(
        "generate-world",
        help="write a data directory: a synthetic world (plus OUT.truth.json), or one built from "
        "hetrec2011-lastfm-2k with a holdout (--from-hetrec)",
        description="Write a data directory (docs/contract.md section 2). Synthetic: "
        "generate-world OUT_DIR --users N --artists N --seed S. From real Last.fm listening: "
        "generate-world --from-hetrec HETREC_DIR --seed S OUT_DIR, then "
        "recsys evaluate --data OUT_DIR.",
    )
    world.add_argument(
        "out", type=Path, metavar="OUT_DIR", help="the data directory to write (made if missing)"
    )
    world.add_argument("--users", type=_positive, help="synthetic: listeners, bots included")
    world.add_argument("--artists", type=_positive, help="synthetic: genuine artists")
    world.add_argument(
        "--seed", type=int, required=True, help="random seed: the same seed, the same world"
    )
    world.add_argument(
        "--today", type=iso_day, help="the world's 'today' (default: the current UTC date)"
    )
    world.add_argument("--from-hetrec", type=Path, metavar="HETREC_DIR", help=HETREC_HELP)
    world.add_argument(
        "--validation",
        action="store_true",
        help="with --from-hetrec: leave the 20%% test pairs out altogether and hold out a "
        "validation split carved from the 80%% instead (for tuning settings; the test holdout "
        "judges them)",
    )
    world.set_defaults(handler=run_generate_world)


def run_generate_world(args: argparse.Namespace, ctx: CommandContext) -> int:
    today = args.today or ctx.now.date()
    if args.from_hetrec is not None:
        return _from_hetrec(args, ctx, today)
    if args.validation:
        raise UsageError("--validation only applies to a world built --from-hetrec")
    missing = [flag for flag in ("--users", "--artists") if getattr(args, flag[2:]) is None]
    if missing:
        raise UsageError(
            f"generate-world needs {' and '.join(missing)} for a synthetic world "
            "(or --from-hetrec HETREC_DIR)"
        )
    try:
        config = WorldConfig(users=args.users, artists=args.artists, seed=args.seed, today=today)
        summary = generate_world(args.out, config)
    except ValueError as error:
        raise UsageError(str(error)) from None
    ctx.print_json({"out": str(args.out), "truth": f"{args.out}.truth.json", **summary})
    return 0


def _from_hetrec(args: argparse.Namespace, ctx: CommandContext, today: date) -> int:
    """The hetrec mode: refuse the synthetic options, build, print the counts."""
    given = [flag for flag in ("--users", "--artists") if getattr(args, flag[2:]) is not None]
    if given:
        raise UsageError(
            f"{' and '.join(given)} only size a synthetic world; --from-hetrec takes the data "
            "set's own listeners and artists"
        )
    if not args.from_hetrec.is_dir():
        raise UsageError(f"{args.from_hetrec}: no such directory (the hetrec2011-lastfm-2k folder)")
    try:
        config = HetrecWorldConfig(seed=args.seed, today=today, validation=args.validation)
        summary = build_hetrec_data_dir(args.from_hetrec, args.out, config)
    except ValueError as error:
        raise UsageError(str(error)) from None
    ctx.print_json({"out": str(args.out), **summary})
    return 0
