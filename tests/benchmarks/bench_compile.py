"""The first rebuild's compile after an install: ``prepare_generation`` with numba's cache empty.

Each run deletes the cached compiled code of ``recsys.generators`` and ``recsys.payload``
(numba keeps it in ``__pycache__`` beside the source) and times ``prepare_generation`` in a
fresh process on a small trained world, as a first ``recsys rebuild`` would (the payload
assembly compiled in a forked child while the generators compile in the parent); ``--serial``
times the same in one process. A last run times it with the cache warm.

    python tests/benchmarks/bench_compile.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHED = ("recsys/generators/__pycache__", "recsys/payload/__pycache__")

ONE_RUN = """
import sys, tempfile, time, pathlib
from tests.recsys.trained_world import train_world
from recsys.jobs.rebuild import compiled_code_cached, prepare_generation
world = train_world(pathlib.Path(tempfile.mkdtemp()), users=60, artists=20, seed=3)
cold = not compiled_code_cached()
started = time.perf_counter()
prepare_generation(world.engine, cold=cold and sys.argv[1] != "serial")
print(time.perf_counter() - started)
"""


def _clear_cache() -> None:
    for folder in CACHED:
        for path in (ROOT / folder).glob("*.nb[ic]"):
            path.unlink()


def _time(mode: str) -> float:
    found = subprocess.run(
        [sys.executable, "-c", ONE_RUN, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(found.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serial", action="store_true", help="compile in one process")
    args = parser.parse_args()
    mode = "serial" if args.serial else "parallel"
    seconds = []
    for _ in range(args.runs):
        _clear_cache()
        seconds.append(_time(mode))
    warm = _time(mode)
    runs = ", ".join(f"{s:.1f}" for s in seconds)
    print(
        f"prepare_generation with a fresh cache ({mode}): median {statistics.median(seconds):.1f} s"
        f" (runs {runs}); with the cache warm: {warm:.2f} s"
    )


if __name__ == "__main__":
    main()
