"""`recsys evaluate --data DIR [--json] [--seeds S ...] [--today DAY]`: the offline quality
report (docs/contract.md section 7).

DIR is the hetrec2011-lastfm-2k folder or a data directory; which one is decided by the files
it holds, and anything else is a usage error (exit 2) that says what was expected, because the
most likely mistake is pointing at the wrong folder.

A data directory that carries ``holdout.csv`` (as ``recsys generate-world --from-hetrec``
writes) gets the discovery report instead (``recsys.evaluation.holdout``): the directory is
rebuilt in a throwaway state and what listeners are served is scored against their holdout.
Its split was fixed when the directory was built (``generate-world --seed``), so ``--seeds``
cannot apply there and is refused; one directory per seed gives the replicates
(``tests/benchmarks/bench_discovery.py`` does seeds 1-3).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from recsys.cli.command_context import CommandContext, iso_day
from recsys.errors import UsageError
from recsys.evaluation.hetrec import USER_ARTISTS, is_hetrec_dir, load_hetrec
from recsys.evaluation.holdout import (
    HOLDOUT_FILE,
    REPORT_KIND,
    evaluate_holdout,
    format_holdout_report,
    has_holdout,
    read_holdout,
)
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


class _Seeds(argparse.Action):
    """``--seeds``, remembering that it was given (the holdout report refuses it)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.seeds_given = True


def add_parsers(commands: Any) -> None:
    """Register ``evaluate`` on the CLI's subparsers."""
    evaluate = commands.add_parser(
        "evaluate",
        help="offline quality report: engine vs plain ALS vs popularity (precision, nDCG, "
        "tag coherence), or discovery on a data directory with holdout.csv",
        description="Split (user, artist) pairs 80/20 per user for each seed and report "
        "precision@10, nDCG@10 and tag coherence of the engine, plain implicit ALS and "
        "popularity, plus the coherence of the engine's mixes; means over the seeds. "
        f"On a data directory with {HOLDOUT_FILE} (recsys generate-world --from-hetrec): "
        "rebuild it in a throwaway state and report, for the stored mixes and the Release "
        "Radar, new-artist precision and recall against the holdout, new artists per "
        "listener and tag coherence, beside plain implicit ALS at the same count of new "
        "artists per listener.",
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
        action=_Seeds,
        help=f"split seeds, each one replicate (default: 1 2 3); not with {HOLDOUT_FILE}, "
        "whose split the directory fixes",
    )
    evaluate.add_argument(
        "--today",
        type=iso_day,
        help="data directories: run the pipeline as of noon UTC on this day (default: now); "
        "give the --today a directory was generated with to evaluate it later",
    )
    evaluate.set_defaults(handler=run_evaluate, seeds_given=False)


def _holdout_report(
    data: Path, now: datetime, ctx: CommandContext, seeds_given: bool
) -> dict[str, Any]:
    """The discovery report (``recsys.evaluation.holdout``); a bad holdout file is a
    UsageError naming its line."""
    if seeds_given:
        raise UsageError(
            f"{data}: a directory with {HOLDOUT_FILE} fixes its split (generate-world "
            "--from-hetrec --seed N); evaluate one directory per seed instead of --seeds"
        )
    try:
        holdout = read_holdout(data)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not holdout:
        raise UsageError(f"{data / HOLDOUT_FILE}: no held-out artists to evaluate")
    return evaluate_holdout(data, ctx.settings, now, holdout)


def _report(
    data: Path, ctx: CommandContext, seeds: list[int], now: datetime, seeds_given: bool
) -> dict[str, Any]:
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
        if has_holdout(data):
            return _holdout_report(data, now, ctx, seeds_given)
        return evaluate_data_dir(data, ctx.settings, seeds, now)
    raise UsageError(
        f"{data}: neither the hetrec2011-lastfm-2k folder (no {USER_ARTISTS}) "
        f"nor a data directory (no {DATA_DIR_MARKER.as_posix()})"
    )


def run_evaluate(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Print the report: one JSON object with ``--json``, else a table."""
    seeds = list(dict.fromkeys(args.seeds))  # a repeated seed would only weigh twice
    now = ctx.now if args.today is None else datetime.combine(args.today, time(12), UTC)
    report = _report(args.data, ctx, seeds, now, args.seeds_given)
    if args.json:
        ctx.print_json(report)
    elif report.get("kind") == REPORT_KIND:
        ctx.print(format_holdout_report(report))
    else:
        ctx.print(format_report(report))
    return 0
