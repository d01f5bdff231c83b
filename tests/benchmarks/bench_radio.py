"""Benchmark: generating on request, in process: a 50-track radio (issue 4: well under 30 ms),
and one listener's mixes and Release Radar with no stored payload (issue 14: p99 under 5 ms).

Trains a generated world once, loads the engine, then times `answers.artist_radio`,
`answers.track_radio`, `answers.user_mixes` and `answers.release_radar` (generation and the
final filter, no HTTP) for random seeds and listeners; prints p50/p99 per kind, the median over
--runs.

    python tests/benchmarks/bench_radio.py --users 20000 --artists 2000 --requests 300 --runs 3
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from pool.trust_import import import_trust_files
from recsys.engine.loading import load_engine
from recsys.serving import answers
from recsys.settings import load_settings
from recsys.state.schema import open_engine_state
from recsys.training.run import run_training
from recsys.world import WorldConfig, generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--artists", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-radio-") as tmp:
        world = Path(tmp) / "world"
        generate_world(
            world,
            WorldConfig(users=args.users, artists=args.artists, seed=2, today=date(2026, 11, 26)),
        )
        settings = replace(load_settings(None, {}, Path(tmp)), state_dir=Path(tmp) / "state")
        now = datetime.now(UTC)
        conn = open_engine_state(settings.state_dir)
        import_trust_files(conn, world, by="bench", why="benchmark setup", now=now)
        run_training(conn, settings.state_dir, world, settings, now)
        engine = load_engine(conn, settings.state_dir, settings, now).warm_up()  # as the API does
        conn.close()
        rng = random.Random(1)
        artists = sorted(engine.context.graph.nodes)
        tracks = sorted(engine.context.catalog.tracks)
        users = list(engine.history.users.ids)
        kinds = {
            "artist radio": lambda: answers.artist_radio(engine, rng.choice(artists), None, None),
            "artist radio, personalised": lambda: answers.artist_radio(
                engine, rng.choice(artists), rng.choice(users), None
            ),
            "track radio": lambda: answers.track_radio(engine, rng.choice(tracks), None, None),
            "mixes of a listener": lambda: {
                "tracks": [
                    t
                    for m in answers.user_mixes(engine, rng.choice(users))["mixes"]
                    for t in m["tracks"]
                ]
            },
            "release radar of a listener": lambda: answers.release_radar(engine, rng.choice(users)),
        }
        for name, call in kinds.items():
            p50s, p99s, lengths = [], [], []
            for _ in range(args.runs):
                seconds = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    mix = call()
                    seconds.append(time.perf_counter() - started)
                    lengths.append(len(mix["tracks"]))
                p50s.append(float(np.percentile(seconds, 50)) * 1000)
                p99s.append(float(np.percentile(seconds, 99)) * 1000)
            print(
                f"{name:<28} p50 {statistics.median(p50s):5.1f} ms  p99"
                f" {statistics.median(p99s):5.1f} ms  (median tracks {statistics.median(lengths)})"
            )


if __name__ == "__main__":
    main()
