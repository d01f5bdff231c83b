"""Benchmark: the cron job on a generated world, next to plain `implicit` batch `recommend`.

Target (SPEC section 7, issue 5): the full pipeline's users/second at no less than half the
rate of plain `implicit` batch `recommend` (N=50, liked items filtered) on the same model.
Prints the rebuild's whole-run time, its stages, peak memory, and both rates, measured in the
same run on the same machine.

    python tests/benchmarks/bench_rebuild.py --users 100000 --artists 10000 --runs 3 \
        [--store redis://127.0.0.1:6379/13]

SPEC's scale target (1,000,000 users, about 1M tracks, on one machine), the rebuild alone:

    python tests/benchmarks/bench_rebuild.py --users 1000000 --artists 82500 --skip-implicit

``--memory-by-stage`` also samples memory every 0.2 s and prints, per stage, the rebuild
process's largest resident set and the largest sum over its forked workers (pages shared with
the parent counted in each): where the peak is, not only how high. A sample can miss a spike
shorter than its interval; the peak RSS line is the kernel's own figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import implicit.cpu.als
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from pool.state import open_state
from pool.trust_import import import_trust_files
from recsys.embeddings.als import confidence
from recsys.engine.loading import Engine, load_engine
from recsys.jobs.rebuild import run_rebuild
from recsys.settings import load_settings
from recsys.state.schema import open_engine_state
from recsys.world import WorldConfig, generate_world
from recsys.world.generate import truth_path


def implicit_rate(engine: Engine) -> float:
    """Users/s of plain `implicit` batch `recommend` (N=50, liked artists filtered) on the
    rebuild's own model and users."""
    model = engine.context.model
    if model is None:
        raise SystemExit("no model was trained")
    plain = implicit.cpu.als.AlternatingLeastSquares(
        factors=model.settings.factors, random_state=model.settings.seed
    )
    plain.user_factors = model.user_factors
    plain.item_factors = model.artist_factors
    # The same users the model knows, with the artists they played as "liked" items.
    users = np.arange(len(model.users))
    rows, cols = [], []
    for row, user_id in enumerate(model.users.ids):
        for track_id in engine.history.of(user_id).track_ids:
            track = engine.context.catalog.tracks.get(track_id)
            for artist in track.artist_ids if track else ():
                column = model.artists.index_of(artist)
                if column is not None:
                    rows.append(row)
                    cols.append(column)
    liked = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(model.users), len(model.artists)),
    )
    liked.sum_duplicates()
    user_items = confidence(liked, model.settings)
    with threadpool_limits(1, "blas"):
        started = time.perf_counter()
        plain.recommend(users, user_items, N=50, filter_already_liked_items=True)
        seconds = time.perf_counter() - started
    return len(users) / seconds


class StageMemory:
    """Largest resident set of this process, and of its child processes together, per stage
    (a stage runs from its ``stage_hook`` call to the next), sampled every ``interval`` s."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil  # noqa: PLC0415 - only with --memory-by-stage (dask[distributed] needs it)

        self.process = psutil.Process()
        self.error = psutil.Error
        self.stage = "start"
        self.peaks: dict[str, tuple[float, float]] = {}
        self.interval = interval
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def hook(self, name: str) -> None:
        self.stage = name

    def _sample(self) -> None:
        while not self.done.wait(self.interval):
            try:
                own = self.process.memory_info().rss
                workers = sum(c.memory_info().rss for c in self.process.children(recursive=True))
            except self.error:  # a worker ended between the listing and the reading
                continue
            stage = "prepare + generate" if self.stage == "prepare" else self.stage
            mine, theirs = self.peaks.get(stage, (0.0, 0.0))
            self.peaks[stage] = (max(mine, own / 2**20), max(theirs, workers / 2**20))

    def report(self) -> str:
        self.done.set()
        self.thread.join()
        return "\n".join(
            f"  {stage:>18}: rebuild process {own:7,.0f} MiB, workers together {workers:7,.0f} MiB"
            for stage, (own, workers) in self.peaks.items()
        )


def _check_kept_world(world: Path, config: WorldConfig) -> None:
    """Refuse a kept world (``--world``) made with other sizes: its figures would be
    reported as this run's."""
    truth = json.loads(truth_path(world).read_text("utf-8"))
    kept = (truth["users"], truth["artists"], truth["seed"], truth["today"])
    wanted = (config.users, config.artists, config.seed, config.today.isoformat())
    if kept != wanted:
        raise SystemExit(
            f"{world} holds a world of {kept[0]:,} users and {kept[1]:,} artists (seed"
            f" {kept[2]}, {kept[3]}), not the {wanted[0]:,} and {wanted[1]:,} asked for:"
            " pass another --world folder, or the sizes it was made with"
        )


def _staff_import(state_dir: Path, world: Path, now: datetime) -> None:
    """Trust comes only from a named staff action, never from the rebuild itself."""
    conn = open_state(state_dir)
    try:
        import_trust_files(conn, world, by="bench", why="benchmark setup", now=now)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--artists", type=int, default=10_000)
    parser.add_argument("--store", default="embedded")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--skip-implicit",
        action="store_true",
        help="time the rebuild alone (SPEC's 1M-user scale: the comparison builds implicit's"
        " input in Python, which a world that size does not leave the memory for)",
    )
    parser.add_argument(
        "--world",
        type=Path,
        help="a folder to keep the generated world in and reuse on the next run (generated"
        " there when empty; one made with other --users or --artists is refused)",
    )
    parser.add_argument(
        "--memory-by-stage",
        action="store_true",
        help="sample memory every 0.2 s and print each stage's largest figures",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        world = args.world or Path(tmp) / "world"
        try:
            config = WorldConfig(
                users=args.users, artists=args.artists, seed=1, today=date(2026, 11, 26)
            )
        except ValueError as error:
            raise SystemExit(f"bench_rebuild: {error}") from None
        if truth_path(world).exists():  # written last: the world is whole
            _check_kept_world(world, config)
        else:
            generate_world(world, config)
        totals, generation_rates, implicit_rates = [], [], []
        for run in range(1, args.runs + 1):
            # A fresh state each run: every run does the whole job (import, train, generate).
            settings = replace(
                load_settings(None, {}, Path(tmp)),
                state_dir=Path(tmp) / f"state-{run}",
                store_url=args.store,
            )
            now = datetime.now(UTC)
            _staff_import(settings.state_dir, world, now)
            memory = StageMemory() if args.memory_by_stage else None
            started = time.perf_counter()
            summary = run_rebuild(
                settings,
                world,
                now,
                progress=lambda d, t: None,
                workers=args.workers,
                stage_hook=memory.hook if memory else None,
            )
            total = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            generation = summary["generation"]
            totals.append(total)
            generation_rates.append(generation["users_per_second"])
            compared = ""
            if not args.skip_implicit:
                conn = open_engine_state(settings.state_dir)
                engine = load_engine(conn, settings.state_dir, settings, now)
                conn.close()
                implicit_rates.append(implicit_rate(engine))
                compared = f"; plain implicit recommend {implicit_rates[-1]:,.0f} users/s"
            print(
                f"run {run}: {args.users:,} users into {args.store}: {total:.1f} s in all"
                f" ({generation['users'] / total:,.0f} users/s), peak RSS {peak:,.0f} MiB"
                f" (largest worker {children:,.0f} MiB); stages (s): {summary['seconds']};"
                f" generation {generation['users_per_second']:,.0f} users/s on"
                f" {args.workers} workers ({generation['mixes']:,} mixes){compared}",
                flush=True,
            )
            if memory:
                print(f"memory by stage, run {run}:\n{memory.report()}", flush=True)
            shutil.rmtree(settings.state_dir)
        users = generation["users"]
        total, gen_rate = statistics.median(totals), statistics.median(generation_rates)
        print(
            f"median of {args.runs}: whole rebuild {total:.1f} s = {users / total:,.0f} users/s;"
            f" generation stage {gen_rate:,.0f} users/s"
        )
        if implicit_rates:
            rate = statistics.median(implicit_rates)
            ratios = zip(generation_rates, implicit_rates, strict=True)
            per_run = ", ".join(f"{g / i:.3f}" for g, i in ratios)
            print(
                f"plain implicit batch recommend (N=50) {rate:,.0f} users/s;"
                f" generation / implicit = {gen_rate / rate:.3f} (target >= 0.5; per run"
                f" {per_run}); whole rebuild / implicit = {users / total / rate:.3f} (import,"
                " fraud screen and training included, which implicit's recommend does not do)"
            )


if __name__ == "__main__":
    main()
