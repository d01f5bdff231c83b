"""Benchmark: the rebuild with generation on a Dask cluster, next to the local path.

Issue 17's targets: through ``--cluster`` on a 2-worker ``LocalCluster``, generation at least
0.85x the local path's users/s in the same run, and a worker killed mid-run still giving a
complete, correct version. Each run rebuilds the same world twice on fresh states, locally
(forked workers) and on the cluster, and prints both generation rates, their ratio, and the
workers' memory; ``--kill-worker`` kills one worker process once, mid-generation, and checks
the published version holds every listener.

    python tests/benchmarks/bench_rebuild_cluster.py --users 100000 --artists 10000 --runs 3
    python tests/benchmarks/bench_rebuild_cluster.py --users 1000000 --artists 82500 --kill-worker

``--world DIR`` keeps the generated world there and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psutil
from distributed import Client, LocalCluster

from recsys.jobs.cluster import cluster_generation
from recsys.jobs.rebuild import run_rebuild
from recsys.settings import Settings, load_settings
from recsys.store.factory import open_store
from recsys.world import WorldConfig, generate_world
from recsys.world.generate import truth_path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_rebuild import _check_kept_world, _staff_import  # noqa: E402


class KillOnce:
    """Kill the worker process that starts chunk ``index``, the first time only."""

    def __init__(self, marker: Path, index: int) -> None:
        self.marker, self.index = str(marker), index
        marker.write_text("armed")

    def __call__(self, index: int) -> None:
        if index == self.index and os.path.exists(self.marker):
            os.remove(self.marker)
            os._exit(1)


def _settings(tmp: Path, name: str, store: str) -> Settings:
    return replace(load_settings(None, {}, tmp), state_dir=tmp / f"state-{name}", store_url=store)


def _rebuild(settings: Settings, world: Path, now: datetime, **options: Any) -> dict[str, Any]:
    _staff_import(settings.state_dir, world, now)
    return run_rebuild(settings, world, now, progress=lambda d, t: None, **options)


def _stored_users(settings: Settings, users: int) -> int:
    store = open_store(settings)
    try:
        conn = getattr(store, "conn", None)
        if conn is None:
            return users  # Redis: the commit checked the count already
        version = store.current_version()
        (count,) = conn.execute(
            "SELECT COUNT(DISTINCT user_id) FROM user_payloads WHERE version = ?", (version,)
        ).fetchone()
        return int(count)
    finally:
        store.close()


def _worker_rss(address: str, workers: int) -> list[float]:
    """Each worker process's resident memory now, MiB, once all ``workers`` are back (one
    client at a time: the rebuild opens its own while it runs)."""
    with Client(address) as client:
        client.wait_for_workers(workers, timeout=120)
        rss = client.run(lambda: psutil.Process().memory_info().rss / 2**20)
    return sorted(rss.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--artists", type=int, default=10_000)
    parser.add_argument("--store", default="embedded")
    parser.add_argument("--workers", type=int, default=2, help="local workers and cluster workers")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--kill-worker", action="store_true", help="kill a worker once per run")
    parser.add_argument(
        "--world",
        type=Path,
        help="a folder to keep the generated world in and reuse (as bench_rebuild.py --world)",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-cluster-") as name,
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=0,
        ) as cluster,
    ):
        tmp = Path(name)
        world = args.world or tmp / "world"
        config = WorldConfig(
            users=args.users, artists=args.artists, seed=1, today=date(2026, 11, 26)
        )
        if truth_path(world).exists():  # written last: the world is whole
            _check_kept_world(world, config)
        else:
            generate_world(world, config)
        ratios = []
        for run in range(1, args.runs + 1):
            now = datetime.now(UTC)
            local = _settings(tmp, f"local-{run}", args.store)
            started = time.perf_counter()
            summary = _rebuild(local, world, now, workers=args.workers)
            local_total = time.perf_counter() - started
            local_rate = summary["generation"]["users_per_second"]
            print(f"run {run} local stages (s): {summary['seconds']}", flush=True)
            shutil.rmtree(local.state_dir)
            remote = _settings(tmp, f"cluster-{run}", args.store)
            hook = KillOnce(tmp / f"kill-{run}", index=3) if args.kill_worker else None
            started = time.perf_counter()
            summary = _rebuild(
                remote,
                world,
                now,
                workers=args.workers,
                generate=cluster_generation(cluster.scheduler_address, remote, hook=hook),
            )
            cluster_total = time.perf_counter() - started
            cluster_rate = summary["generation"]["users_per_second"]
            print(f"run {run} cluster stages (s): {summary['seconds']}", flush=True)
            users = summary["generation"]["users"]
            stored = _stored_users(remote, users)
            killed = ""
            if hook is not None:
                fired = not Path(hook.marker).exists()
                killed = f"; a worker killed mid-run: {'yes' if fired else 'no (never fired)'}"
            rss = ", ".join(
                f"{m:,.0f}" for m in _worker_rss(cluster.scheduler_address, args.workers)
            )
            ratios.append(cluster_rate / local_rate)
            print(
                f"run {run}: {users:,} users. local: {local_total:.1f} s in all, generation"
                f" {local_rate:,.0f} users/s on {args.workers} forked workers. cluster:"
                f" {cluster_total:.1f} s in all, generation {cluster_rate:,.0f} users/s on"
                f" {args.workers} Dask workers (prepare {summary['seconds'].get('prepare')} s),"
                f" ratio {ratios[-1]:.3f}; stored {stored:,} of {users:,} listeners{killed};"
                f" worker RSS now (MiB) {rss}",
                flush=True,
            )
            shutil.rmtree(remote.state_dir)
        print(
            f"median of {args.runs}: cluster / local generation = {statistics.median(ratios):.3f}"
            " (target >= 0.85)"
        )


if __name__ == "__main__":
    main()
