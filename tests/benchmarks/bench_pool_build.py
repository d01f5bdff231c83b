"""Benchmark: building the trust-gated pool for a large generated catalog.

Target (issue 2): a 1,000,000-track catalog in under a minute on the 2-core machine.
Generates a world once (few users, many artists: the catalog is what matters here), then
imports it into a fresh state per run and prints the median time, per-stage times and peak RSS.

    python tests/benchmarks/bench_pool_build.py --artists 100000 --runs 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from pool.ai_status import AiRules
from pool.catalog import read_catalog
from pool.importer import import_data_dir
from pool.state import open_state
from pool.trust_import import import_trust_files
from recsys.world import WorldConfig, generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artists", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as tmp:
        world = Path(tmp) / "world"
        started = time.perf_counter()
        summary = generate_world(
            world,
            WorldConfig(
                users=args.users, artists=args.artists, seed=args.seed, today=date(2026, 11, 26)
            ),
        )
        print(f"world: {summary} in {time.perf_counter() - started:.1f} s")
        parse_times, build_times = [], []
        admitted = 0
        for run in range(args.runs):
            started = time.perf_counter()
            catalog = read_catalog(world)
            parse_times.append(time.perf_counter() - started)
            del catalog
            state = Path(tmp) / f"state-{run}"
            conn = open_state(state)
            # The staff import is not part of a pool build (trust comes only from staff).
            import_trust_files(
                conn, world, by="bench", why="benchmark setup", now=datetime.now(UTC)
            )
            started = time.perf_counter()
            result = import_data_dir(conn, state, world, AiRules(), datetime.now(UTC))
            build_times.append(time.perf_counter() - started)
            conn.close()
            admitted = result.build.report.admitted
            print(
                f"run {run + 1}: catalog parse {parse_times[-1]:.1f} s,"
                f" full import + build + publish {build_times[-1]:.1f} s"
            )
        rows = result.build.report.catalog_tracks
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"catalog track rows {rows}, admitted {admitted}")
        print(
            f"median catalog parse {statistics.median(parse_times):.1f} s;"
            f" median full pool build {statistics.median(build_times):.1f} s"
            f" ({rows / statistics.median(build_times):,.0f} tracks/s);"
            f" peak RSS {peak_mib:,.0f} MiB"
        )


if __name__ == "__main__":
    main()
