"""Benchmark: do listeners discover the artists they went on to play? (docs/contract.md section 7)

Not collected by the test run (pytest ignores tests/benchmarks). Run from the repository root:

    python tests/benchmarks/bench_discovery.py --hetrec ../shared/datasets/hetrec2011-lastfm-2k \\
        --seeds 1 2 3

For each seed it builds the hetrec-derived data directory (``recsys generate-world
--from-hetrec HETREC --seed S``, 80/20 holdout per listener) in a temporary folder, evaluates it
as ``recsys evaluate --data DIR`` does (a real rebuild into a throwaway state, each listener's
stored mixes and Release Radar read back), prints that seed's report, and at the end the means
over the seeds: per surface, the engine's and plain ALS's new-artist precision, recall, new
artists per listener and mix coherence, and engine / ALS of the means.

Configuration comes as for ``recsys``: ``--config FILE`` and ``RECSYS_*`` variables, e.g.
``RECSYS_GENERATORS__DISCOVERY_RANKING=graph`` to measure the other discovery ranking.
Settings are tuned with ``--validation`` (validation directories: the test pairs left out, a
validation split of each seed's training pairs held out), never on the test holdout. The
directory and the evaluation use the same day (``--today``, fixed by default so that reruns
give the same figures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from recsys.evaluation.hetrec_data_dir import HetrecWorldConfig, build_hetrec_data_dir
from recsys.evaluation.holdout import (
    FIGURES,
    HEADINGS,
    SURFACES,
    evaluate_holdout,
    format_holdout_report,
    read_holdout,
)
from recsys.settings import Settings, load_settings

SIDES = ("engine", "als")


def run_seed(
    hetrec: Path, seed: int, today: date, settings: Settings, scratch: Path, *, validation: bool
) -> Any:
    """Build the directory for ``seed`` (its validation directory when ``validation``),
    evaluate it, return the report with timings."""
    with tempfile.TemporaryDirectory(prefix="bench-discovery-", dir=scratch) as holder:
        data = Path(holder) / f"hetrec-seed-{seed}"
        started = perf_counter()
        built = build_hetrec_data_dir(
            hetrec, data, HetrecWorldConfig(seed=seed, today=today, validation=validation)
        )
        build_seconds = perf_counter() - started
        now = datetime.combine(today, time(12), UTC)
        started = perf_counter()
        report = evaluate_holdout(data, settings, now, read_holdout(data))
        evaluate_seconds = perf_counter() - started
    report["built"] = built
    report["seconds"] = {"build": round(build_seconds, 1), "evaluate": round(evaluate_seconds, 1)}
    return report


def means(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Per surface and side, each figure's mean over the seeds; ``ratio`` of the means."""
    result: dict[str, Any] = {}
    for surface in SURFACES:
        block: dict[str, Any] = {
            side: {
                f: round(float(np.mean([r[surface][side][f] for r in reports])), 4) for f in FIGURES
            }
            for side in SIDES
        }
        block["ratio"] = {
            f: round(block["engine"][f] / block["als"][f], 4) if block["als"][f] else None
            for f in FIGURES
        }
        result[surface] = block
    return result


def format_means(summary: dict[str, Any], seeds: list[int]) -> str:
    """The means as a table in the report's layout."""
    lines = [
        f"means over seeds {' '.join(map(str, seeds))}",
        f"{'':<24}" + "".join(f"{HEADINGS[f]:>14}" for f in FIGURES),
    ]
    for surface in SURFACES:
        name = surface.replace("_", " ")
        for side, label in (("engine", name), ("als", "  plain ALS"), ("ratio", "  engine / ALS")):
            values = summary[surface][side]
            cells = "".join(
                f"{values[f]:>14.4f}" if values[f] is not None else f"{'-':>14}" for f in FIGURES
            )
            lines.append(f"{label:<24}{cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run every seed, print each report and the means."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hetrec", type=Path, required=True, help="hetrec2011-lastfm-2k folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 26))
    parser.add_argument("--config", type=Path, help="a TOML file overriding config/default.toml")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument(
        "--validation",
        action="store_true",
        help="measure on validation directories (generate-world --from-hetrec --validation): "
        "the test pairs left out, a validation split of the training pairs held out; tune here",
    )
    args = parser.parse_args(argv)
    settings = load_settings(args.config, os.environ, Path.cwd())
    reports = []
    for seed in args.seeds:
        report = run_seed(
            args.hetrec, seed, args.today, settings, args.tmp, validation=args.validation
        )
        reports.append(report)
        print(
            f"--- seed {seed}: built in {report['seconds']['build']} s, "
            f"evaluated in {report['seconds']['evaluate']} s "
            f"({report['built']['listen_rows']:,} listen rows)",
            flush=True,
        )
        print(format_holdout_report(report), flush=True)
    summary = means(reports)
    print(format_means(summary, args.seeds))
    if args.json:
        print(
            json.dumps(
                {
                    "means": summary,
                    "per_seed": dict(zip(map(str, args.seeds), reports, strict=True)),
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
