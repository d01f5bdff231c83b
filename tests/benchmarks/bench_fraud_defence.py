"""Benchmark: does the fraud screen keep bot listeners from moving artists into people's lists?

On a generated world it trains ALS three ways on the same data and compares:

* ``engine``: the fraud screen as configured (what `recsys train` does);
* ``clean``: the planted bots removed by the truth file, then the screen (the no-attack run);
* ``unscreened``: every account and play kept (the defence removed).

For each it reports how many genuine users have a bot-targeted artist in their top-20
recommended artists, and how many artists have a bot-targeted artist among their top-20 ALS
neighbours; plus the screen's catch rate and false-positive rate against the truth file.

    python tests/benchmarks/bench_fraud_defence.py --users 20000 --artists 2000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from pool.ai_status import AiRules
from pool.importer import import_data_dir
from pool.state import open_state
from pool.trust_import import import_trust_files
from recsys.embeddings.als import recommend_items
from recsys.embeddings.artist_model import train_artist_model
from recsys.listening.fraud import screen_listens
from recsys.listening.reader import read_listens
from recsys.listening.training import artist_play_matrix, track_facts
from recsys.settings import load_settings
from recsys.state.user_feeds import read_user_feeds
from recsys.world import WorldConfig, generate_world

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The screen switched off ("unscreened"), shared with tests/hardening/test_attacks.py.
from tests.hardening.attack_world import SCREEN_OFF as NEVER  # noqa: E402

TOP = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--artists", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings(None, {}, Path.cwd())
    with tempfile.TemporaryDirectory(prefix="bench-fraud-") as tmp:
        world = Path(tmp) / "world"
        generate_world(
            world,
            WorldConfig(
                users=args.users, artists=args.artists, seed=args.seed, today=date(2026, 11, 26)
            ),
        )
        truth = json.loads((Path(tmp) / "world.truth.json").read_text())
        bots = {u for users in truth["bot_user_ids"].values() for u in users}
        targets = set(truth["bot_target_artist_ids"])
        conn = open_state(Path(tmp) / "state")
        import_trust_files(conn, world, by="bench", why="benchmark setup", now=datetime.now(UTC))
        imported = import_data_dir(conn, Path(tmp) / "state", world, AiRules(), datetime.now(UTC))
        optouts = read_user_feeds(world).optouts
        catalog, build = imported.catalog, imported.build
        variants = {
            "engine": (optouts, settings.fraud),
            "clean": (optouts | bots, settings.fraud),
            "unscreened": (optouts, NEVER),
        }
        print(f"world: {args.users} users ({len(bots)} bots), {len(targets)} target artists")
        for name, (excluded, rules) in variants.items():
            started = time.perf_counter()
            log, _ = read_listens(world, catalog.tracks, excluded_users=excluded)
            verdict = screen_listens(
                log, track_facts(log, catalog, build.report.rejected_tracks), rules
            )
            flagged = {log.users.id_of(int(u)) for u in np.flatnonzero(verdict.flagged_users)}
            plays, users, artists = artist_play_matrix(log, verdict, build.snapshot)
            model = train_artist_model(plays, users, artists, replace(settings.als), neighbours=TOP)
            top, _ = recommend_items(model.user_factors, model.artist_factors, plays, TOP)
            target_rows = np.array([artists.index_of(t) for t in targets if t in artists])
            genuine_rows = np.array([i for i, u in enumerate(users.ids) if u not in bots])
            exposed = np.isin(top[genuine_rows], target_rows).any(axis=1).sum()
            neighbour_hits = np.isin(model.neighbour_index, target_rows).sum()
            present_bots = bots & set(log.users.ids)
            genuine_total = len(log.users) - len(present_bots)
            false_positives = len(flagged - bots)
            print(
                f"{name:<11} bots caught {len(present_bots & flagged)}/{len(present_bots)},"
                f" genuine flagged {false_positives}/{genuine_total}"
                f" ({100 * false_positives / max(genuine_total, 1):.2f}%);"
                f" genuine users with a target in their top-{TOP}: {exposed};"
                f" target slots in artists' top-{TOP} neighbours: {neighbour_hits};"
                f" {time.perf_counter() - started:.1f} s"
            )


if __name__ == "__main__":
    main()
