"""`recsys evaluate --data DIR [--json] [--seeds S ...]`: the offline quality report
(docs/contract.md section 7).

DIR is the hetrec2011-lastfm-2k folder or a data directory; which one is decided by the files
it holds, and anything else is a usage error (exit 2) that says what was expected, because the
most likely mistake is pointing at the wrong folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recsys.cli.command_context import CommandContext
from recsys.errors import UsageError
from recsys.evaluation.hetrec import USER_ARTISTS, is_hetrec_dir, load_hetrec
from recsys.evaluation.report import (
    DATA_DIR_MARKER,
    DEFAULT_SEEDS,
    evaluate_data_dir,
    evaluate_hetrec,
    format_report,
    is_data_dir,
)

__all__ = ["add_parsers", "run_evaluate"]

MAX_SEED = 2**32 - 1


def _seed(text: str) -> int:
    """A split seed: numpy's generators take non-negative integers only."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}, got {value}")
    return value


def add_parsers(commands: Any) -> None:
    """Register ``evaluate`` on the CLI's subparsers."""
    evaluate = commands.add_parser(
        "evaluate",
        help="offline quality report: engine vs plain ALS vs popularity (precision, nDCG, "
        "tag coherence)",
        description="Split (user, artist) pairs 80/20 per user for each seed and report "
        "precision@10, nDCG@10 and tag coherence of the engine, plain implicit ALS and "
        "popularity, plus the coherence of the engine's mixes; means over the seeds.",
    )
    evaluate.add_argument(
        "--data",
        type=Path,
        required=True,
        help="the hetrec2011-lastfm-2k folder or a data directory",
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as one JSON object")
    evaluate.add_argument(
        "--seeds",
        type=_seed,
        nargs="+",
        default=list(DEFAULT_SEEDS),
        help="split seeds, each one replicate (default: 1 2 3)",
    )
    evaluate.set_defaults(handler=run_evaluate)


def _report(data: Path, ctx: CommandContext, seeds: list[int]) -> dict[str, Any]:
    """Evaluate ``data`` as whichever kind of folder it is; a wrong folder is a UsageError."""
    if not data.is_dir():
        raise UsageError(f"{data}: no such directory")
    if is_hetrec_dir(data):
        try:
            hetrec = load_hetrec(data)
        except ValueError as error:
            raise UsageError(str(error)) from None
        return evaluate_hetrec(hetrec, ctx.settings, seeds)
    if is_data_dir(data):
        return evaluate_data_dir(data, ctx.settings, seeds, ctx.now)
    raise UsageError(
        f"{data}: neither the hetrec2011-lastfm-2k folder (no {USER_ARTISTS}) "
        f"nor a data directory (no {DATA_DIR_MARKER.as_posix()})"
    )


def run_evaluate(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Print the report: one JSON object with ``--json``, else a table."""
    seeds = list(dict.fromkeys(args.seeds))  # a repeated seed would only weigh twice
    report = _report(args.data, ctx, seeds)
    if args.json:
        ctx.print_json(report)
    else:
        ctx.print(format_report(report))
    return 0
