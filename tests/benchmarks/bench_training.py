"""Benchmark: a training run on a generated world, stage by stage, next to plain `implicit`.

Target (issue 3): training on a 100,000-user world in under a minute on the 2-core machine.
Prints the seconds of each stage of `run_training` (pool import, links, listens, fraud screen,
ALS, save) and, on the same play matrix and settings, the fit time of a plain
`implicit.als.AlternatingLeastSquares` for comparison; medians over --runs.

    python tests/benchmarks/bench_training.py --users 100000 --artists 10000 --runs 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import implicit.cpu.als
from threadpoolctl import threadpool_limits

from pool.trust_import import import_trust_files
from recsys.embeddings.als import confidence
from recsys.settings import load_settings
from recsys.state.schema import open_engine_state
from recsys.training.run import run_training
from recsys.world import WorldConfig, generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--artists", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings(None, {}, Path.cwd())
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        world = Path(tmp) / "world"
        started = time.perf_counter()
        summary = generate_world(
            world,
            WorldConfig(users=args.users, artists=args.artists, seed=1, today=date(2026, 11, 26)),
        )
        print(
            f"world: {summary['listen_rows']:,} listen rows, {summary['tracks']:,} tracks,"
            f" generated in {time.perf_counter() - started:.1f} s"
        )
        stages: dict[str, list[float]] = {}
        totals, plain = [], []
        for run_index in range(args.runs):
            state = Path(tmp) / f"state-{run_index}"
            conn = open_engine_state(state)
            import_trust_files(
                conn, world, by="bench", why="benchmark setup", now=datetime.now(UTC)
            )
            started = time.perf_counter()
            run = run_training(conn, state, world, settings, datetime.now(UTC))
            totals.append(time.perf_counter() - started)
            conn.close()
            for name, seconds in run.timings.items():
                stages.setdefault(name, []).append(seconds)
            # Plain implicit on the very same matrix and hyper-parameters.
            weighted = confidence(run.plays, settings.als)
            with threadpool_limits(1, "blas"):
                model = implicit.cpu.als.AlternatingLeastSquares(
                    factors=settings.als.factors,
                    regularization=settings.als.regularization,
                    iterations=settings.als.iterations,
                    random_state=settings.als.seed,
                )
                started = time.perf_counter()
                model.fit(weighted, show_progress=False)
                plain.append(time.perf_counter() - started)
            print(
                f"run {run_index + 1}: total {totals[-1]:.1f} s, {run.timings};"
                f" plain implicit fit {plain[-1]:.1f} s"
            )
        median = {name: round(statistics.median(v), 2) for name, v in stages.items()}
        print(
            f"median total {statistics.median(totals):.1f} s; stages {median};"
            f" plain implicit fit {statistics.median(plain):.1f} s;"
            f" model {len(run.model.users):,} users x {len(run.model.artists):,} artists;"
            f" peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
        )


if __name__ == "__main__":
    main()
