"""Benchmark: the rebuild's listens and fraud-screen stages, the code before columnar ingestion
and the code now, side by side in one run on one generated world.

Each run of each side is a fresh process (so its peak RSS is its own), importing ``recsys``
either from this checkout or from a ``git worktree`` of ``--old`` (through ``PYTHONPATH``),
alternating old and new. A run reads ``listens/*.csv`` as the rebuild does (the catalog's track
ids as a mapping, ``optouts.csv`` as the opted-out users), then screens the log for fraud; the
track facts are built from ``catalog/tracks.jsonl`` outside the timed stages (label, primary
artist; farm-like: declared ``generated``), the same for both sides. Each side prints a digest of
its log, report and verdict, and the medians are printed only when the digests agree. The new
screen's compiled kernel is compiled (or loaded from numba's cache) before the runs start.

    python tests/benchmarks/bench_listens.py --users 200000 --artists 20000 --runs 3
    python tests/benchmarks/bench_listens.py --users 1000000 --artists 82500 --runs 1

``--world DIR`` reuses a world generated before (``recsys generate-world``) instead.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

# In a side's process these come from that side's tree (PYTHONPATH comes before the install).
import recsys
from recsys.domain.vocabulary import Vocabulary
from recsys.listening.fraud import FraudRules, TrackFacts, screen_listens
from recsys.listening.reader import read_listens
from recsys.world import WorldConfig, generate_world

REPO = Path(__file__).resolve().parents[2]
BEFORE_COLUMNAR = "62399c5"  # the commit before columnar ingestion (row-wise reader, np.unique)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digest(*parts: Any) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        if hasattr(part, "tobytes"):
            hasher.update(str(part.dtype).encode())
            hasher.update(part.tobytes())
        else:
            hasher.update(json.dumps(part, sort_keys=True, default=str).encode())
    return hasher.hexdigest()[:16]


def run_stages(world: Path) -> dict[str, Any]:
    """One side's listens and fraud stages, timed; runs in the process of that side."""
    catalog: dict[str, tuple[str, str, bool]] = {}
    with (world / "catalog" / "tracks.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            track = json.loads(line)
            catalog[track["track_id"]] = (
                track["label_id"],
                track["artist_ids"][0],
                track["ai_declaration"] == "generated",
            )
    optouts_file = world / "optouts.csv"
    optouts = frozenset(
        optouts_file.read_text(encoding="utf-8").split()[1:] if optouts_file.exists() else ()
    )
    # The rebuild's threads (every core) where this side's code takes them.
    threads = {"threads": os.cpu_count() or 1}
    read_options = threads if "threads" in inspect.signature(read_listens).parameters else {}
    screen_options = threads if "threads" in inspect.signature(screen_listens).parameters else {}
    before = _peak_mib()
    started = time.perf_counter()
    log, report = read_listens(world, catalog, excluded_users=optouts, **read_options)
    read_seconds = time.perf_counter() - started
    after_read = _peak_mib()
    labels, artists = Vocabulary(), Vocabulary()
    facts = TrackFacts(
        farm_like=np.array([catalog[t][2] for t in log.tracks.ids], dtype=bool),
        label=np.array([labels.add(catalog[t][0]) for t in log.tracks.ids], dtype=np.int64),
        artist=np.array([artists.add(catalog[t][1]) for t in log.tracks.ids], dtype=np.int64),
    )
    started = time.perf_counter()
    verdict = screen_listens(log, facts, FraudRules(), **screen_options)
    fraud_seconds = time.perf_counter() - started
    return {
        "recsys": str(Path(recsys.__file__).parent),
        "rows": report.rows,
        "kept_rows": len(log),
        "listens_s": read_seconds,
        "fraud_s": fraud_seconds,
        "rss_before_mib": before,
        "peak_after_listens_mib": after_read,
        "peak_mib": _peak_mib(),
        "log_digest": _digest(
            list(log.users.ids),
            list(log.tracks.ids),
            log.user,
            log.track,
            log.day,
            log.ms_played,
            log.plays,
            report.summary(),
        ),
        "verdict_digest": _digest(
            verdict.flagged_users,
            verdict.kept_rows,
            verdict.capped_plays,
            verdict.accounts_by_rule,
            verdict.rules_by_user,
        ),
        "accounts_by_rule": verdict.accounts_by_rule,
    }


def _side(source: Path, world: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run(
        [sys.executable, __file__, "--stage-run", str(world)],
        env=env,
        cwd=source,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    if Path(result["recsys"]).resolve() != (source / "recsys").resolve():
        raise SystemExit(f"imported recsys from {result['recsys']}, not {source}")
    return result


def _warm_up_kernel(source: Path) -> None:
    """Compile (or load from numba's cache) the new screen's kernel before timing."""
    script = (
        "import numpy as np\n"
        "from recsys.domain.vocabulary import Vocabulary\n"
        "from recsys.listening.fraud import FraudRules, TrackFacts, screen_listens\n"
        "from recsys.listening.reader import ListenLog\n"
        "one = np.ones(1, dtype=np.int32)\n"
        "log = ListenLog(Vocabulary(['u']), Vocabulary(['t']), one * 0, one * 0, one,"
        " one.astype(np.int64), one)\n"
        "z = np.zeros(1, dtype=np.int64)\n"
        "screen_listens(log, TrackFacts(z > 0, z, z), FraudRules())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(source)}
    subprocess.run([sys.executable, "-c", script], env=env, cwd=source, check=True)


def _summarise(name: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    rows = runs[0]["rows"]
    listens = statistics.median(r["listens_s"] for r in runs)
    fraud = statistics.median(r["fraud_s"] for r in runs)
    both = statistics.median(r["listens_s"] + r["fraud_s"] for r in runs)
    peak = statistics.median(r["peak_mib"] for r in runs)
    after_listens = statistics.median(r["peak_after_listens_mib"] for r in runs)
    before = statistics.median(r["rss_before_mib"] for r in runs)
    print(
        f"{name}: listens {listens:.1f} s ({rows / listens:,.0f} rows/s), fraud screen"
        f" {fraud:.1f} s ({rows / fraud:,.0f} rows/s), together {both:.1f} s; peak RSS"
        f" {peak:,.0f} MiB (after listens {after_listens:,.0f}, before them {before:,.0f});"
        f" medians of {len(runs)}",
        flush=True,
    )
    return {"listens": listens, "fraud": fraud, "both": both, "peak": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--artists", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old", default=BEFORE_COLUMNAR, help="commit of the code before")
    parser.add_argument("--world", type=Path, help="a generated world to reuse")
    parser.add_argument("--stage-run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage_run:
        print(json.dumps(run_stages(args.stage_run)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-listens-") as tmp:
        world = args.world
        if world is None:
            world = Path(tmp) / "world"
            started = time.perf_counter()
            config = WorldConfig(
                users=args.users, artists=args.artists, seed=1, today=date(2026, 11, 26)
            )
            generate_world(world, config)
            print(
                f"world: {args.users:,} users, generated in {time.perf_counter() - started:.0f} s"
            )
        old_tree = Path(tmp) / "old"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(old_tree), args.old],
            check=True,
            capture_output=True,
        )
        try:
            _warm_up_kernel(REPO)
            sides: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
            for run in range(1, args.runs + 1):
                for name, source in (("old", old_tree), ("new", REPO)):
                    result = _side(source, world)
                    sides[name].append(result)
                    print(
                        f"run {run} {name}: {result['rows']:,} rows, listens"
                        f" {result['listens_s']:.1f} s, fraud {result['fraud_s']:.1f} s, peak"
                        f" {result['peak_mib']:,.0f} MiB, flagged {result['accounts_by_rule']}",
                        flush=True,
                    )
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(old_tree)],
                check=True,
            )
    digests = {(r["log_digest"], r["verdict_digest"]) for runs in sides.values() for r in runs}
    if len(digests) != 1:
        raise SystemExit(f"old and new disagree: {digests}")
    print(f"old {args.old} and new: identical logs, reports and verdicts")
    old = _summarise(f"old ({args.old})", sides["old"])
    new = _summarise("new", sides["new"])
    print(
        f"speed-up: listens {old['listens'] / new['listens']:.2f}x, fraud screen"
        f" {old['fraud'] / new['fraud']:.2f}x, both stages {old['both'] / new['both']:.2f}x;"
        f" peak RSS {new['peak'] / old['peak']:.2f}x of before"
    )


if __name__ == "__main__":
    main()
