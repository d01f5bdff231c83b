"""Benchmark: how fast `generate_world` writes a world, and how much memory it needs.

Not collected by the test run (pytest ignores tests/benchmarks). Run from the repository root:

    python tests/benchmarks/bench_generate_world.py --users 100000 --artists 10000 --runs 3

Each run writes into a fresh temporary directory (under --tmp, default /tmp) that is deleted
afterwards, truth file included. Prints the median wall time, rows and bytes written, and the
process's peak resident memory (the maximum over all runs, from getrusage).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from recsys.world import WorldConfig, generate_world


def directory_bytes(root: Path) -> int:
    """Total size of the files under `root`."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def run_once(config: WorldConfig, scratch: Path) -> tuple[float, dict[str, int], int]:
    """Generate one world into a temporary directory; return seconds, summary and bytes."""
    with tempfile.TemporaryDirectory(prefix="bench-world-", dir=scratch) as holder:
        out = Path(holder) / "world"
        started = time.perf_counter()
        summary = generate_world(out, config)
        elapsed = time.perf_counter() - started
        written = directory_bytes(out) + (Path(holder) / "world.truth.json").stat().st_size
        shutil.rmtree(out)
    return elapsed, summary, written


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print a report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--artists", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 24))
    parser.add_argument("--tmp", type=Path, default=Path("/tmp"))
    args = parser.parse_args(argv)
    config = WorldConfig(users=args.users, artists=args.artists, seed=args.seed, today=args.today)
    times: list[float] = []
    summary: dict[str, int] = {}
    written = 0
    for run in range(args.runs):
        elapsed, summary, written = run_once(config, args.tmp)
        times.append(elapsed)
        print(f"run {run + 1}/{args.runs}: {elapsed:.2f} s", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(
        f"users={args.users} artists={args.artists} seed={args.seed}\n"
        f"wall time: median {statistics.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}, {args.runs} runs)\n"
        f"listen rows: {summary['listen_rows']:,} in {summary['listen_files']} files "
        f"({summary['listen_rows'] / statistics.median(times):,.0f} rows/s)\n"
        f"tracks: {summary['tracks']:,} (farm {summary['farm_tracks']:,}), "
        f"bots: {summary['bot_users']:,}, follows: {summary['follows']:,}\n"
        f"bytes written: {written / 2**20:,.1f} MiB\n"
        f"peak RSS: {peak_mib:,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
