"""Benchmark: the engine's ranking recipe ([als] settings, tag rows and blend) tuned on
validation pairs of the data directories the discovery figures are measured on.

Not collected by the test run (pytest ignores tests/benchmarks). Run from the repository root:

    python tests/benchmarks/bench_discovery_tuning.py \\
        --hetrec ../shared/datasets/hetrec2011-lastfm-2k --seeds 1 2 3

For each seed it builds the hetrec-derived data directory (``recsys generate-world
--from-hetrec``), rebuilds it into a throwaway state as ``recsys evaluate --data DIR`` does
(pool, fraud screen, the listener x artist plays the engine trains on, the tag vectors it trains
with), then carves a validation split from those training plays per listener
(``recsys.evaluation.split.validation_split``: the holdout's pairs are never read). Each
candidate recipe is trained on the rest and scored on the validation pairs: precision of each
listener's best 10 and 20 unplayed pool artists (a listener's mixes hold about 17 new artists),
means over the seeds; plain ``implicit`` ALS with the report's validation-tuned settings
(``report.PLAIN_ALS_TUNED``) is the reference. The candidate with the best mean precision@20
(then @10) is the one to put in ``config/default.toml``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.domain.vocabulary import Vocabulary
from recsys.embeddings.als import AlsSettings
from recsys.embeddings.artist_model import train_artist_model
from recsys.evaluation.hetrec_data_dir import HetrecWorldConfig, build_hetrec_data_dir
from recsys.evaluation.holdout import read_holdout, serve_holdout
from recsys.evaluation.report import PLAIN_ALS_TUNED
from recsys.evaluation.split import validation_split
from recsys.settings import load_settings

DEPTHS = (10, 20)

#: (label, settings, whether tags are used): plain ALS first, then the engine's candidates
Candidate = tuple[str, AlsSettings, bool]


def candidates(base: AlsSettings) -> list[Candidate]:
    """The grid: the report's plain ALS, today's engine recipe, and its neighbours."""
    plain = replace(base, **PLAIN_ALS_TUNED)
    wide = replace(plain, tag_row_weight=6.0, tag_blend=0.4)
    return [
        ("plain ALS (report's tuned)", plain, False),
        (
            "f=64 reg=20 alpha=0.01 rows=6 blend=0.4",
            replace(
                base, factors=64, regularization=20.0, alpha=0.01, tag_row_weight=6.0, tag_blend=0.4
            ),
            True,
        ),
        ("f=128 reg=40 alpha=0.02 rows=6 blend=0.4", wide, True),
        ("f=128 reg=40 alpha=0.02 rows=3 blend=0.4", replace(wide, tag_row_weight=3.0), True),
        ("f=128 reg=40 alpha=0.02 rows=6 blend=0.2", replace(wide, tag_blend=0.2), True),
        ("f=128 reg=40 alpha=0.02 rows=6 blend=0.6", replace(wide, tag_blend=0.6), True),
        (
            "f=128 reg=80 alpha=0.04 rows=6 blend=0.4",
            replace(wide, regularization=80.0, alpha=0.04),
            True,
        ),
    ]


def precision(scores: np.ndarray, fit: sp.csr_matrix, validation: sp.csr_matrix) -> list[float]:
    """Mean precision at each of ``DEPTHS`` of each listener's best unplayed artists (those
    with validation pairs)."""
    found: dict[int, list[float]] = {k: [] for k in DEPTHS}
    for user in range(scores.shape[0]):
        held = validation.indices[validation.indptr[user] : validation.indptr[user + 1]]
        if len(held) == 0:
            continue
        row = scores[user].astype(np.float64)
        row[fit.indices[fit.indptr[user] : fit.indptr[user + 1]]] = -np.inf
        top = np.argsort(-row, kind="stable")[: max(DEPTHS)]
        wanted = set(held.tolist())
        for k in DEPTHS:
            found[k].append(len(wanted.intersection(top[:k].tolist())) / k)
    return [float(np.mean(found[k])) for k in DEPTHS]


def score(candidate: Candidate, fit: sp.csr_matrix, tags: sp.csr_matrix) -> list[float]:
    """Train ``candidate`` on ``fit`` and return its validation precision at ``DEPTHS``."""
    _label, settings, with_tags = candidate
    users = Vocabulary([str(u) for u in range(fit.shape[0])])
    artists = Vocabulary([str(a) for a in range(fit.shape[1])])
    model = train_artist_model(
        fit, users, artists, settings, neighbours=1, artist_tags=tags if with_tags else None
    )
    if with_tags:
        return model.score_users(np.arange(fit.shape[0]))
    with threadpool_limits(1, "blas"):
        return model.user_factors @ model.artist_factors.T


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hetrec", type=Path, required=True, help="hetrec2011-lastfm-2k folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 26))
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    settings = load_settings(None, os.environ, Path.cwd())
    grid = candidates(settings.als)
    results: dict[str, list[list[float]]] = {label: [] for label, _, _ in grid}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="bench-tuning-", dir=args.tmp) as holder:
            data = Path(holder) / f"hetrec-seed-{seed}"
            build_hetrec_data_dir(args.hetrec, data, HetrecWorldConfig(seed=seed, today=args.today))
            now = datetime.combine(args.today, time(12), UTC)
            served = serve_holdout(data, settings, now, read_holdout(data))
        fit, validation = validation_split(served.plays, seed)
        for candidate in grid:
            figures = precision(score(candidate, fit, served.tag_vectors), fit, validation)
            results[candidate[0]].append(figures)
            print(
                f"seed {seed}  {candidate[0]:<44}"
                + "".join(f"  P@{k} {v:.4f}" for k, v in zip(DEPTHS, figures, strict=True)),
                flush=True,
            )
    print(f"means over seeds {' '.join(map(str, args.seeds))}, on validation pairs:")
    means = {label: np.mean(rows, axis=0) for label, rows in results.items()}
    for label, mean in means.items():
        print(
            f"  {label:<44}"
            + "".join(f"  P@{k} {v:.4f}" for k, v in zip(DEPTHS, mean, strict=True))
        )
    engine = [c[0] for c in grid if c[2]]
    best = max(engine, key=lambda label: (means[label][1], means[label][0]))
    print(f"chosen (best mean P@20, then P@10): {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
