"""Ranking quality on hetrec2011-lastfm-2k: popularity, tuned plain implicit ALS, ALS + tags.

SPEC section 7 asks the engine's artist recommendations to reach at least the precision@10 and
nDCG@10 of "a tuned plain implicit ALS" on an 80/20 split of (user, artist) pairs, seeds 1-3,
while being more tag-coherent. This script is that reference: it prints, as means over the seeds,

* ``popularity``: the most listened-to artists (by number of train users), train items removed;
* ``als``: plain ``implicit.als.AlternatingLeastSquares`` on a BM25 confidence transform of the
  train play counts, with the settings found by ``--grid`` (see ``PLAIN_ALS``);
* ``als+tags``: the recipe that beats it on both ranking metrics with more coherent lists:
  ALS trained on the play matrix *plus one pseudo-user row per tag* (so that item factors know
  which artists share tags, which helps the long tail), then scores blended with the cosine between
  the user's tag profile and each artist's tags;
* ``als+tags+seq``: the same with a greedy sequencing step that favours, among the top 30, artists
  whose tags overlap the ones already picked (more coherent, slightly less precise).

Tags given to the engine are rebuilt per split *without* the assignments on held-out (user,
artist) pairs (users tag what they listen to, so keeping them would leak the test set); the
coherence metric uses every artist's full top-10 tags, identically for all engines.

``--grid`` tunes plain ALS on *validation*, never on test: each seed's training pairs are split
again per user (``recsys.evaluation.split.validation_split``), every candidate is fitted on the
rest and scored on those, the best mean precision@10 (then nDCG@10) is chosen, and only the
chosen one is then scored on the test pairs. (Until this was so, the grid scored every candidate
on the test pairs, and the reported margin over "tuned ALS" was selected on test.)

Run (about 1 minute of one core; ``--grid`` about 3 more)::

    nice python tests/benchmarks/bench_hetrec_als.py [--data DIR] [--seeds 1 2 3] [--grid] [--json]

CPU only, one BLAS thread and one implicit thread (``threadpool_limits(1, "blas")`` around fit
and recommend), so figures are reproducible and the machine stays usable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight, tfidf_weight
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from recsys.evaluation import (  # noqa: E402
    HetrecData,
    coherence,
    load_hetrec,
    ndcg_at_k,
    precision_at_k,
    relevant_from_csr,
    train_test_split,
)
from recsys.evaluation.split import validation_split  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "hetrec2011-lastfm-2k"
K = 10


@dataclass(frozen=True)
class ALSSettings:
    """One plain-ALS configuration: a confidence transform and implicit's hyperparameters.

    The confidence of an observed (user, artist) pair is ``1 + alpha * f(plays)`` where ``f`` is
    ``transform``: ``raw`` (plays), ``log`` (log1p(plays)), ``bm25`` (implicit's bm25_weight of
    the user × artist matrix with ``bm25_k1``, ``bm25_b``), ``tfidf`` or ``binary`` (1). It is
    passed to implicit with ``alpha=1.0`` so that the transform is explicit here.
    """

    transform: str = "bm25"
    alpha: float = 0.01
    factors: int = 64
    regularization: float = 20.0
    iterations: int = 15
    cg_steps: int = 3
    bm25_k1: float = 100.0
    bm25_b: float = 1.0

    def label(self) -> str:
        """Short description for the tuning table."""
        extra = f" K1={self.bm25_k1:g} B={self.bm25_b:g}" if self.transform == "bm25" else ""
        return (
            f"{self.transform:<6} alpha={self.alpha:<6g} f={self.factors:<3} "
            f"reg={self.regularization:<5g} it={self.iterations:<2} cg={self.cg_steps}{extra}"
        )


#: the engine's own ALS settings (config/default.toml [als]), the starting point of the grid
PLAIN_ALS = ALSSettings()

#: ALS + tags recipe: weight of the tag pseudo-user rows, of the tag-profile cosine, and of the
#: tag overlap in the greedy sequencing over the top ``SEQ_CANDIDATES``
TAG_ROW_WEIGHT = 3.0
TAG_BLEND = 0.4
SEQ_WEIGHT = 0.15
SEQ_CANDIDATES = 30


@dataclass(frozen=True)
class Split:
    """One seed's split and what every engine needs from it: fit on ``train``, scored on
    ``test`` (for a validation split: the training pairs' validation part), tags without the
    ``hidden`` pairs' assignments (the test pairs, and for validation the validation ones)."""

    seed: int
    train: sp.csr_matrix
    test: sp.csr_matrix
    relevant: list[frozenset[int]]
    hidden: sp.csr_matrix


Engine = Callable[[HetrecData, Split], np.ndarray]


def confidence(train: sp.csr_matrix, s: ALSSettings) -> sp.csr_matrix:
    """``1 + alpha * f(plays)`` on the stored pairs of ``train`` (see :class:`ALSSettings`)."""
    if s.transform == "bm25":
        out = bm25_weight(train, K1=s.bm25_k1, B=s.bm25_b).tocsr()
    elif s.transform == "tfidf":
        out = tfidf_weight(train).tocsr()
    else:
        out = train.copy()
        if s.transform == "log":
            out.data = np.log1p(out.data)
        elif s.transform == "binary":
            out.data = np.ones_like(out.data)
        elif s.transform != "raw":
            raise ValueError(f"unknown transform {s.transform!r}")
    out = sp.csr_matrix(out, dtype=np.float32)
    out.data = 1.0 + s.alpha * out.data
    return out


def fit_als(user_items: sp.csr_matrix, s: ALSSettings, seed: int) -> AlternatingLeastSquares:
    """Fit plain implicit ALS (CPU, one thread) on a users × items confidence matrix."""
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=s.factors,
            regularization=s.regularization,
            alpha=1.0,
            iterations=s.iterations,
            random_state=seed,
            num_threads=1,
            use_gpu=False,
        )
        model.cg_steps = s.cg_steps  # an attribute in implicit 0.7, not an argument
        model.fit(user_items, show_progress=False)
    return model


def top_k(scores: np.ndarray, train: sp.csr_matrix, k: int = K) -> np.ndarray:
    """Best ``k`` columns per row of a dense score matrix, train items excluded, best first."""
    s = np.array(scores, dtype=np.float32, copy=True)
    s[train.nonzero()] = -np.inf
    idx = np.argpartition(-s, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, idx, 1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, 1)


def max_normalised(scores: np.ndarray) -> np.ndarray:
    """Divide each row by its maximum (rows with a maximum ≤ 0 unchanged), to blend scores."""
    top = scores.max(axis=1, keepdims=True)
    top[top <= 0] = 1.0
    return scores / top


def l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (zero rows unchanged)."""
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ m, dtype=np.float32)


# ---------------------------------------------------------------------------------- engines


def popularity(_data: HetrecData, split: Split) -> np.ndarray:
    """Most popular artists by number of train listeners, train items removed."""
    listeners = np.diff(split.train.tocsc().indptr).astype(np.float32)
    return top_k(np.tile(listeners, (split.train.shape[0], 1)), split.train)


def plain_als(settings: ALSSettings) -> Engine:
    """Plain implicit ALS with ``settings``; implicit's own batch ``recommend`` ranks."""

    def engine(_data: HetrecData, split: Split) -> np.ndarray:
        conf = confidence(split.train, settings)
        model = fit_als(conf, settings, split.seed)
        users = np.arange(conf.shape[0])
        with threadpool_limits(1, "blas"):
            ids, _ = model.recommend(users, conf, N=K, filter_already_liked_items=True)
        return np.asarray(ids)

    return engine


def tag_vectors(data: HetrecData, split: Split) -> sp.csr_matrix:
    """Artists × tags, ``log1p(count) * idf`` rows of unit norm, test pairs' tags left out."""
    counts = data.tag_counts(exclude=split.hidden)
    counts.data = np.log1p(counts.data)
    df = np.diff(counts.tocsc().indptr)
    idf = np.log((1.0 + counts.shape[0]) / (1.0 + df)).astype(np.float32)
    return l2_rows(sp.csr_matrix(counts @ sp.diags(idf)))


def als_with_tags(
    settings: ALSSettings,
    seq_weight: float = 0.0,
    tag_blend: float = TAG_BLEND,
    tag_row_weight: float = TAG_ROW_WEIGHT,
) -> Engine:
    """ALS on plays + tag pseudo-users, blended with a tag-profile cosine, optionally sequenced.

    1. confidence rows of the users as for plain ALS, stacked over one row per tag used on at
       least two artists (``TAG_ROW_WEIGHT`` × the tag's column of :func:`tag_vectors`);
    2. score = ALS score / the user's best ALS score + ``TAG_BLEND`` × cos(user tag profile,
       artist tags), the profile being the user's BM25-weighted sum of their artists' tags;
    3. with ``seq_weight`` > 0, the top ``SEQ_CANDIDATES`` are re-picked greedily by that score
       (scaled to a maximum of 1) + ``seq_weight`` × mean Jaccard of top-10 tag sets with the
       artists already picked.
    """

    def engine(data: HetrecData, split: Split) -> np.ndarray:
        train = split.train
        n_users = train.shape[0]
        tags = tag_vectors(data, split)
        tag_rows = sp.csr_matrix(tags.T)
        tag_rows = tag_rows[np.diff(tag_rows.indptr) >= 2]
        tag_rows.data *= tag_row_weight
        conf = confidence(train, settings)
        model = fit_als(sp.vstack([conf, tag_rows], format="csr"), settings, split.seed)
        with threadpool_limits(1, "blas"):
            als = model.user_factors[:n_users] @ model.item_factors.T
            profile = l2_rows(sp.csr_matrix(bm25_weight(train, K1=100, B=1.0)) @ tags)
            tag_score = (profile @ tags.T).toarray()
        blended = max_normalised(als) + tag_blend * tag_score
        if seq_weight <= 0:
            return top_k(blended, train)
        top10 = data.top_tags(10, exclude=split.hidden)
        return sequence(blended, train, top10, seq_weight)

    return engine


def sequence(
    scores: np.ndarray,
    train: sp.csr_matrix,
    artist_tags: Sequence[Sequence[str]],
    weight: float,
    k: int = K,
) -> np.ndarray:
    """Greedy pick of ``k`` of the top ``SEQ_CANDIDATES``: score + weight × tag overlap so far."""
    cand = top_k(scores, train, SEQ_CANDIDATES)
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for item in np.unique(cand):
        for tag in artist_tags[item]:
            rows.append(int(item))
            cols.append(vocab.setdefault(tag, len(vocab)))
    onehot = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(scores.shape[1], max(len(vocab), 1)),
    )
    sizes = np.asarray(onehot.sum(axis=1)).ravel()
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for u in range(scores.shape[0]):
        items = cand[u]
        base = scores[u, items]
        base = base / base.max() if base.max() > 0 else base
        sub = onehot[items]
        inter = (sub @ sub.T).toarray()
        union = sizes[items][:, None] + sizes[items][None, :] - inter
        counted = union > 0
        jac = np.divide(inter, union, out=np.zeros_like(inter), where=counted)
        total = np.zeros(len(items))
        n = np.zeros(len(items))
        free = np.ones(len(items), dtype=bool)
        for r in range(k):
            mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
            value = np.where(free, base + weight * mean, -np.inf)
            j = int(np.argmax(value))
            out[u, r] = items[j]
            free[j] = False
            total += jac[:, j]
            n += counted[:, j]
    return out


# ------------------------------------------------------------------------------- evaluation


def make_splits(data: HetrecData, seeds: Sequence[int]) -> list[Split]:
    """The per-user 80/20 split of each seed."""
    splits = []
    for seed in seeds:
        train, test = train_test_split(data.plays, seed)
        splits.append(Split(seed, train, test, relevant_from_csr(test), test))
    return splits


def validation_splits(splits: Sequence[Split]) -> list[Split]:
    """Each test split's training pairs split again, per user: what tuning is scored on."""
    out = []
    for split in splits:
        fit, validation = validation_split(split.train, split.seed)
        hidden = sp.csr_matrix(split.test + validation)
        out.append(Split(split.seed, fit, validation, relevant_from_csr(validation), hidden))
    return out


def tune(
    grid: Sequence[ALSSettings], data: HetrecData, validation: Sequence[Split]
) -> tuple[ALSSettings, dict[str, dict[str, object]]]:
    """Every candidate scored on validation; the best mean precision@10 (then nDCG@10)."""
    scored = {settings: evaluate(plain_als(settings), data, validation) for settings in grid}
    best = max(grid, key=lambda s: (scored[s]["precision@10"], scored[s]["ndcg@10"]))
    return best, {s.label(): r for s, r in scored.items()}


def evaluate(engine: Engine, data: HetrecData, splits: Sequence[Split]) -> dict[str, object]:
    """Run ``engine`` on every split; means (and per-seed values) of the three metrics."""
    tag_sets = data.tag_sets()
    per_seed = []
    start = time.perf_counter()
    for split in splits:
        recs = engine(data, split)
        per_seed.append(
            (
                precision_at_k(recs, split.relevant, K),
                ndcg_at_k(recs, split.relevant, K),
                coherence(recs, tag_sets),
            )
        )
    means = np.mean(per_seed, axis=0)
    return {
        "precision@10": round(float(means[0]), 4),
        "ndcg@10": round(float(means[1]), 4),
        "coherence": round(float(means[2]), 4),
        "per_seed": [[round(float(v), 4) for v in row] for row in per_seed],
        "seconds": round(time.perf_counter() - start, 1),
    }


def line(name: str, r: dict[str, object]) -> str:
    """One row of the printed table."""
    return (
        f"{name:<62} P@10={r['precision@10']:.4f} nDCG@10={r['ndcg@10']:.4f} "
        f"coh={r['coherence']:.4f}  ({r['seconds']}s)"
    )


def per_seed_line(r: dict[str, object]) -> str:
    """The per-seed figures of a result: P@10 and nDCG@10 for each seed."""
    rows = r["per_seed"]
    assert isinstance(rows, list)
    return "    per seed: " + "; ".join(f"P@10={p:.4f} nDCG@10={n:.4f}" for p, n, _ in rows)


#: the plain-ALS tuning grid: transforms, then a search around bm25 with more factors and
#: regularization in proportion to alpha
GRID: tuple[ALSSettings, ...] = (
    ALSSettings("raw", 1.0, 64, 0.1, 15),
    ALSSettings("raw", 0.01, 64, 0.1, 15),
    ALSSettings("raw", 0.01, 64, 20.0, 15),
    ALSSettings("log", 1.0, 64, 0.1, 15),
    ALSSettings("log", 1.0, 64, 20.0, 15),
    ALSSettings("log", 3.0, 64, 60.0, 15),
    ALSSettings("binary", 5.0, 64, 0.1, 15),
    ALSSettings("tfidf", 1.0, 64, 0.1, 15),
    ALSSettings("bm25", 1.0, 64, 0.1, 15, bm25_b=0.8),
    ALSSettings("bm25", 0.01, 64, 0.1, 15, bm25_b=0.8),
    ALSSettings("bm25", 0.01, 64, 0.1, 15, bm25_b=1.0),
    ALSSettings("bm25", 0.01, 32, 20.0, 15),
    ALSSettings("bm25", 0.01, 64, 5.0, 15),
    ALSSettings("bm25", 0.01, 64, 10.0, 15),
    PLAIN_ALS,
    ALSSettings("bm25", 0.01, 64, 50.0, 15),
    ALSSettings("bm25", 0.02, 64, 40.0, 15),
    ALSSettings("bm25", 0.01, 128, 30.0, 15),
    replace(PLAIN_ALS, iterations=30),
    ALSSettings("bm25", 0.01, 128, 20.0, 15),
    ALSSettings("bm25", 0.01, 256, 20.0, 15),
    ALSSettings("bm25", 0.005, 128, 10.0, 15),
    ALSSettings("bm25", 0.02, 128, 40.0, 15),
    ALSSettings("bm25", 0.02, 256, 40.0, 15),
)


#: the engine recipe's tuning grid (its [als] settings, tag blend and tag row weight)
ENGINE_GRID: tuple[tuple[ALSSettings, float, float], ...] = (
    (PLAIN_ALS, TAG_BLEND, TAG_ROW_WEIGHT),
    (PLAIN_ALS, 0.2, TAG_ROW_WEIGHT),
    (PLAIN_ALS, 0.6, TAG_ROW_WEIGHT),
    (PLAIN_ALS, TAG_BLEND, 1.0),
    (PLAIN_ALS, TAG_BLEND, 6.0),
    # Fewer iterations: what an operator gives up for a third less ALS time (issue 17).
    (replace(PLAIN_ALS, iterations=10), TAG_BLEND, TAG_ROW_WEIGHT),
    (replace(PLAIN_ALS, iterations=6), TAG_BLEND, TAG_ROW_WEIGHT),
    # Fewer conjugate-gradient steps per solve: a fifth less time an iteration at 1M.
    (replace(PLAIN_ALS, cg_steps=2), TAG_BLEND, 6.0),
    (replace(PLAIN_ALS, iterations=12, cg_steps=2), TAG_BLEND, 6.0),
    (replace(PLAIN_ALS, iterations=10, cg_steps=2), TAG_BLEND, 6.0),
    (replace(PLAIN_ALS, iterations=12), TAG_BLEND, 6.0),
    (replace(PLAIN_ALS, iterations=10), TAG_BLEND, 6.0),
    (replace(PLAIN_ALS, factors=128), TAG_BLEND, TAG_ROW_WEIGHT),
    (replace(PLAIN_ALS, factors=128), 0.2, TAG_ROW_WEIGHT),
    (replace(PLAIN_ALS, factors=128, regularization=40.0, alpha=0.02), TAG_BLEND, TAG_ROW_WEIGHT),
    (replace(PLAIN_ALS, factors=128, regularization=40.0, alpha=0.02), TAG_BLEND, 6.0),
    (replace(PLAIN_ALS, factors=128, regularization=40.0, alpha=0.02), 0.2, 6.0),
)


def engine_label(candidate: tuple[ALSSettings, float, float]) -> str:
    settings, blend, rows = candidate
    return f"{settings.label()} blend={blend:g} tag_rows={rows:g}"


def tune_engine(
    data: HetrecData, validation: Sequence[Split]
) -> tuple[tuple[ALSSettings, float, float], dict[str, dict[str, object]]]:
    """The engine recipe's candidates scored on validation; the best mean precision@10."""
    scored = {
        c: evaluate(als_with_tags(c[0], tag_blend=c[1], tag_row_weight=c[2]), data, validation)
        for c in ENGINE_GRID
    }
    best = max(ENGINE_GRID, key=lambda c: (scored[c]["precision@10"], scored[c]["ndcg@10"]))
    return best, {engine_label(c): r for c, r in scored.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints the table (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--grid", action="store_true", help="also run the plain-ALS tuning grid")
    parser.add_argument(
        "--engine-grid", action="store_true", help="also tune the engine recipe on validation"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    data = load_hetrec(args.data)
    splits = make_splits(data, args.seeds)
    results: dict[str, dict[str, object]] = {}
    engines: list[tuple[str, Engine]] = [
        ("popularity", popularity),
        ("als", plain_als(PLAIN_ALS)),
        ("als+tags", als_with_tags(PLAIN_ALS)),
        ("als+tags+seq", als_with_tags(PLAIN_ALS, SEQ_WEIGHT)),
    ]
    if not args.json:
        print(
            f"hetrec2011-lastfm-2k: {data.n_users} users, {data.n_artists} artists, "
            f"{data.plays.nnz} pairs; seeds {args.seeds}; means over seeds"
        )
    for name, engine in engines:
        results[name] = evaluate(engine, data, splits)
        if not args.json:
            print(line(name, results[name]), flush=True)
            print(per_seed_line(results[name]), flush=True)
    if args.grid:
        best, grid = tune(GRID, data, validation_splits(splits))
        if not args.json:
            print("\nplain ALS tuning grid, on validation (confidence = 1 + alpha * f(plays)):")
            for label, r in grid.items():
                print(line(label, r), flush=True)
        results["grid_validation"] = grid  # type: ignore[assignment]
        results["tuned_als"] = chosen = evaluate(plain_als(best), data, splits)
        chosen["settings"] = best.label()
        if not args.json:
            print(f"\nchosen on validation: {best.label()}; on the test pairs:")
            print(line("als (validation-tuned)", chosen), flush=True)
            print(per_seed_line(chosen), flush=True)
    if args.engine_grid:
        best_engine, engine_grid = tune_engine(data, validation_splits(splits))
        if not args.json:
            print("\nengine recipe (ALS + tags) tuning grid, on validation:")
            for label, r in engine_grid.items():
                print(line(label, r), flush=True)
        results["engine_grid_validation"] = engine_grid  # type: ignore[assignment]
        settings, blend, rows = best_engine
        results["tuned_engine"] = tuned = evaluate(
            als_with_tags(settings, tag_blend=blend, tag_row_weight=rows), data, splits
        )
        tuned["settings"] = engine_label(best_engine)
        if not args.json:
            print(f"\nchosen on validation: {engine_label(best_engine)}; on the test pairs:")
            print(line("als+tags (validation-tuned)", tuned), flush=True)
            print(per_seed_line(tuned), flush=True)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
