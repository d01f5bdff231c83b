"""The offline quality report of ``recsys evaluate`` (docs/contract.md section 7).

Three rankers are measured on the same seeded 80/20 per-user split of (user, artist) pairs, as
means over the seeds:

* ``engine``: the engine's own artist scorer, trained by the engine's own code
  (:func:`~recsys.embeddings.artist_model.train_artist_model` with tag side information, ranked by
  :meth:`~recsys.embeddings.artist_model.ArtistModel.score_users`), so the figures describe what
  is served, not a copy of it that could drift;
* ``als``: the contract's reference, plain ``implicit`` ALS with the same factors, regularisation,
  iterations, seed and confidence, no tags, ranked by implicit's own batch ``recommend``;
* ``popularity``: the most listened artists (distinct train listeners), a floor any model must
  clear.

``mixes`` adds the tag coherence of the engine's personal-mix artist lists (the listener's top
artists clustered on the similar-artist graph, first cluster's anchors plus its best graph
neighbours), because docs/contract.md section 7 asks *mixes* to be more coherent than plain ALS top
lists.

The split seed is also the ALS seed of both models: each seed is one independent replicate of
the whole experiment, as in ``tests/benchmarks/bench_hetrec_als.py`` whose recipe this checks.
On hetrec the tags given to the engine leave out the assignments of held-out (user, artist) pairs
(users tag what they play, so keeping them would leak the test set); coherence always uses every
artist's full top-10 tags, identically for every ranker.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import implicit.cpu.als
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from pool.trust_import import import_trust_files
from recsys.domain.vocabulary import Vocabulary
from recsys.embeddings.als import AlsSettings, confidence
from recsys.embeddings.artist_model import ArtistModel, train_artist_model
from recsys.embeddings.tag_space import artist_tag_counts, tag_vectors
from recsys.evaluation.hetrec import HetrecData
from recsys.evaluation.metrics import coherence, ndcg_at_k, precision_at_k, relevant_from_csr
from recsys.evaluation.split import train_test_split
from recsys.generators.neighbourhood import graph_weights, neighbours_of
from recsys.generators.taste_clusters import cluster_artists, find_scenes
from recsys.graph.similar_artists import build_similar_artist_graph
from recsys.settings import Settings
from recsys.state.schema import open_engine_state
from recsys.training.run import pool_artist_tags, run_training

__all__ = [
    "DEFAULT_SEEDS",
    "MIX_BLOCKS",
    "PLAIN_ALS_TUNED",
    "RANKERS",
    "EvaluationData",
    "K",
    "evaluate",
    "evaluate_data_dir",
    "evaluate_hetrec",
    "format_report",
    "is_data_dir",
    "mix_artist_lists",
    "plain_als_top",
    "top_tag_sets",
]

log = logging.getLogger(__name__)

K = 10
DEFAULT_SEEDS: tuple[int, ...] = (1, 2, 3)
#: the rankers whose lists get all three metrics, in report order
RANKERS = ("engine", "als", "popularity")
# Plain ALS's settings as tuned on validation pairs carved from each seed's training pairs
# (never on the test pairs): `python tests/benchmarks/bench_hetrec_als.py --grid` chose these
# of its grid (validation P@10 0.1427 against 0.1404 for the engine's own [als] settings).
PLAIN_ALS_TUNED: dict[str, Any] = {
    "confidence": "bm25",
    "alpha": 0.02,
    "factors": 128,
    "regularization": 40.0,
    "regularization_scale": "absolute",
    "iterations": 15,
    "bm25_k1": 100.0,
    "bm25_b": 1.0,
}
# The engine's mix artist lists, and the same anchors with plain ALS's new artists instead.
MIX_BLOCKS = ("mixes", "als_mixes")
METRICS = ("precision@10", "ndcg@10", "coherence")
#: artists per part of a mix artist list: the cluster's best anchors, then its best neighbours
MIX_ANCHORS = 5
MIX_DISCOVERIES = 5
TOP_TAGS = 10
#: users scored at once: bounds the dense users × artists score block (hetrec: ~70 MB)
BATCH = 1024
DIGITS = 4
#: the file that marks a data directory (docs/contract.md section 2)
DATA_DIR_MARKER = Path("catalog") / "tracks.jsonl"

IntMatrix = npt.NDArray[np.int64]
TagCounts = Callable[[sp.csr_matrix], sp.csr_matrix]


@dataclass(frozen=True)
class EvaluationData:
    """What every ranker needs, whatever the source: plays, vocabularies and tags.

    ``tag_counts(test)`` gives the artists × tags counts the engine may use for a split whose
    held-out pairs are ``test`` (hetrec drops their assignments; catalog tags ignore it).
    ``tag_sets[a]`` is artist ``a``'s top tags, the coherence metric's view of it.
    """

    kind: str
    plays: sp.csr_matrix
    users: Vocabulary
    artists: Vocabulary
    tag_counts: TagCounts
    tag_sets: Sequence[frozenset[str]]


@dataclass(frozen=True)
class _Split:
    seed: int
    train: sp.csr_matrix
    test: sp.csr_matrix
    relevant: list[frozenset[int]]


def is_data_dir(path: str | Path) -> bool:
    """True when ``path`` holds a data directory's catalog (``catalog/tracks.jsonl``).

    ``recsys evaluate`` accepts a data directory or the hetrec folder; this tells the former.
    """
    return (Path(path) / DATA_DIR_MARKER).is_file()


def top_tag_sets(
    counts: sp.csr_matrix, tag_names: Sequence[str], top: int = TOP_TAGS
) -> list[frozenset[str]]:
    """Each artist's ``top`` most frequent tags (ties by name), as coherence's tag sets.

    Ties go by name, not by column, so the sets do not depend on the order tags were first met.
    """
    csr = sp.csr_matrix(counts)
    result: list[frozenset[str]] = []
    for row in range(csr.shape[0]):
        lo, hi = csr.indptr[row], csr.indptr[row + 1]
        ranked = sorted(
            (
                (-float(v), tag_names[int(c)])
                for c, v in zip(csr.indices[lo:hi], csr.data[lo:hi], strict=True)
                if v > 0
            ),
        )
        result.append(frozenset(name for _, name in ranked[:top]))
    return result


# ---------------------------------------------------------------------------------- rankers


def _top_k(scores: npt.NDArray[np.float32], seen: sp.csr_matrix, k: int = K) -> IntMatrix:
    """Best ``k`` columns per row of ``scores``, the row's ``seen`` items excluded, best first.

    Ties go to the lower column so the lists are reproducible.
    """
    s = np.array(scores, dtype=np.float32, copy=True)
    coo = seen.tocoo()
    s[coo.row, coo.col] = -np.inf
    k = min(k, s.shape[1])
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


def _batched(
    train: sp.csr_matrix, score: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]]
) -> IntMatrix:
    """Every user's top ``K`` unseen items, scoring ``BATCH`` users at a time."""
    out = []
    for start in range(0, train.shape[0], BATCH):
        rows = np.arange(start, min(start + BATCH, train.shape[0]), dtype=np.int64)
        out.append(_top_k(score(rows), train[rows]))
    return np.vstack(out) if out else np.zeros((0, K), dtype=np.int64)


def _popularity(train: sp.csr_matrix) -> IntMatrix:
    """Most listened artists (distinct train listeners), train items removed."""
    listeners = np.diff(sp.csc_matrix(train).indptr).astype(np.float32)
    return _batched(train, lambda rows: np.tile(listeners, (len(rows), 1)))


def plain_als_top(conf: sp.csr_matrix, als: AlsSettings, depth: int) -> IntMatrix:
    """The contract's reference ranker: plain implicit ALS (CPU, keyword arguments only, no
    tags) fitted on the confidence matrix ``conf`` with ``als``, and implicit's own
    ``recommend`` of each row's best ``depth`` unplayed columns (-1 pads a short row). BLAS
    pinned to one thread as implicit asks. The hetrec report and the discovery report both
    rank with it."""
    with threadpool_limits(1, "blas"):
        model = implicit.cpu.als.AlternatingLeastSquares(
            factors=als.factors,
            regularization=als.regularization,
            iterations=als.iterations,
            num_threads=als.threads,
            random_state=als.seed,
        )
        model.fit(conf, show_progress=False)
        ids, _ = model.recommend(
            np.arange(conf.shape[0]), conf, N=depth, filter_already_liked_items=True
        )
    return np.asarray(ids, dtype=np.int64).reshape(conf.shape[0], -1)


def _plain_als(train: sp.csr_matrix, settings: Settings, seed: int) -> IntMatrix:
    """Plain ALS with its settings chosen on validation (``PLAIN_ALS_TUNED``), the split's
    seed."""
    als = replace(settings.als, **PLAIN_ALS_TUNED, seed=seed)
    return plain_als_top(confidence(train, als), als, K)


def _engine_model(data: EvaluationData, split: _Split, settings: Settings) -> ArtistModel:
    """The engine's artist model trained on the split's train half, with the split's tags."""
    return train_artist_model(
        split.train,
        data.users,
        data.artists,
        replace(settings.als, seed=split.seed),
        neighbours=settings.graph.als_neighbours,
        artist_tags=tag_vectors(data.tag_counts(split.test)),
        neighbour_tag_weight=settings.graph.tag_weight,
    )


def mix_artist_lists(
    model: ArtistModel,
    train: sp.csr_matrix,
    users: Sequence[int],
    settings: Settings,
) -> list[tuple[list[int], list[int]]]:
    """The artists of each user's first personal mix, as the engine's generator picks them:
    (anchors, discoveries).

    As ``recsys.generators.personal_mixes``: the user's top artists by plays (train half only)
    are clustered on the similar-artist graph built from the model's neighbours; the strongest
    cluster gives its ``MIX_ANCHORS`` best artists by affinity, then the ``MIX_DISCOVERIES``
    best unplayed graph neighbours of the whole cluster. Tracks are not modelled: coherence is
    a property of the artists a mix brings together.
    """
    gen = settings.generators
    ids = model.artists.ids
    column = {artist: i for i, artist in enumerate(ids)}
    graph = build_similar_artist_graph(set(ids), [], model.neighbours(), settings.graph)
    weights = graph_weights(graph)
    scenes = find_scenes(weights, gen.seed, gen.scene_resolution)
    familiar = round(gen.mix_target_tracks * gen.familiar_share)
    min_size = -(-familiar // gen.max_tracks_per_artist)
    lists: list[tuple[list[int], list[int]]] = []
    for user in users:
        lo, hi = train.indptr[user], train.indptr[user + 1]
        affinity = {
            ids[int(a)]: float(p)
            for a, p in zip(train.indices[lo:hi], train.data[lo:hi], strict=True)
        }
        top = dict(sorted(affinity.items(), key=lambda kv: (-kv[1], kv[0]))[: gen.top_artists])
        clusters = cluster_artists(scenes, top, min_size) if top else []
        if not clusters:
            lists.append(([], []))
            continue
        cluster = clusters[0]
        anchors = sorted(cluster, key=lambda a: (-cluster[a], a))[:MIX_ANCHORS]
        discoveries = [
            n.artist_id
            for n in neighbours_of(weights, cluster, exclude=affinity.keys(), blocked={})
        ][:MIX_DISCOVERIES]
        lists.append(([column[a] for a in anchors], [column[a] for a in discoveries]))
    return lists


# ------------------------------------------------------------------------------- evaluation


def _scores(
    recs: IntMatrix | Sequence[Sequence[int]], split: _Split, tags: Any
) -> dict[str, float]:
    return {
        "precision@10": precision_at_k(recs, split.relevant, K),
        "ndcg@10": ndcg_at_k(recs, split.relevant, K),
        "coherence": coherence(recs, tags),
    }


def _evaluate_seed(data: EvaluationData, split: _Split, settings: Settings) -> dict[str, Any]:
    """All rankers and the mix lists on one split (unrounded)."""
    model = _engine_model(data, split, settings)
    engine = _batched(split.train, model.score_users)
    evaluated = [u for u, rel in enumerate(split.relevant) if rel]
    mixes = mix_artist_lists(model, split.train, evaluated, settings)
    als = _plain_als(split.train, settings, split.seed)
    # Like with like: the same anchors (the listener's own artists) with plain ALS's best new
    # artists in place of the mix's discoveries.
    als_mixes = [
        anchors + als[user][:MIX_DISCOVERIES].tolist() if anchors else []
        for user, (anchors, _) in zip(evaluated, mixes, strict=True)
    ]
    return {
        "engine": _scores(engine, split, data.tag_sets),
        "als": _scores(als, split, data.tag_sets),
        "popularity": _scores(_popularity(split.train), split, data.tag_sets),
        "mixes": {"coherence": coherence([a + d for a, d in mixes], data.tag_sets)},
        "als_mixes": {"coherence": coherence(als_mixes, data.tag_sets)},
    }


def _rounded(block: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {
        name: {m: round(v, DIGITS) for m, v in values.items()} for name, values in block.items()
    }


def evaluate(data: EvaluationData, settings: Settings, seeds: Sequence[int]) -> dict[str, Any]:
    """The report on ``data``: each ranker's metrics, means over ``seeds`` (and per seed).

    Values are rounded to four decimals, as printed; the same data, settings and seeds always
    give the same report.
    """
    if not seeds:
        raise ValueError("at least one seed is needed")
    per_seed: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        train, test = train_test_split(data.plays, seed)
        split = _Split(seed, train, test, relevant_from_csr(test))
        log.info("evaluating seed %d", seed)
        per_seed[str(seed)] = _evaluate_seed(data, split, settings)
    runs = list(per_seed.values())
    means = _rounded(
        {
            block: {
                metric: float(np.mean([run[block][metric] for run in runs]))
                for metric in runs[0][block]
            }
            for block in (*RANKERS, *MIX_BLOCKS)
        }
    )
    return {
        **means,
        "seeds": list(seeds),
        "per_seed": {seed: _rounded(run) for seed, run in per_seed.items()},
        "data": {
            "kind": data.kind,
            "users": int(data.plays.shape[0]),
            "artists": int(data.plays.shape[1]),
            "pairs": int(data.plays.nnz),
        },
    }


def evaluate_hetrec(
    data: HetrecData, settings: Settings, seeds: Sequence[int] = DEFAULT_SEEDS
) -> dict[str, Any]:
    """The report on hetrec2011-lastfm-2k (docs/contract.md section 7's benchmark).

    The engine gets per split the tag counts without the held-out pairs' assignments; coherence
    uses the full top-10 tags.
    """
    return evaluate(
        EvaluationData(
            kind="hetrec2011-lastfm-2k",
            plays=sp.csr_matrix(data.plays, dtype=np.float32),
            users=Vocabulary(data.user_ids),
            artists=Vocabulary(data.artist_ids),
            tag_counts=lambda test: data.tag_counts(exclude=test),
            tag_sets=data.tag_sets(),
        ),
        settings,
        seeds,
    )


def evaluate_data_dir(
    data_dir: Path, settings: Settings, seeds: Sequence[int], now: datetime
) -> dict[str, Any]:
    """The report on a data directory (docs/contract.md section 2), imported into a throwaway state.

    The pipeline's own import, fraud screen and play matrix decide who and what is evaluated
    (so bots and farm tracks never reach the figures); artist tags are their pool tracks' tags,
    which come from the catalog and so cannot leak held-out listening. The throwaway state
    has no staff, so the directory's ``trust/`` files are imported by a staff action named
    for the evaluation (as an operator would before a pool build), never by the pool build.
    """
    with tempfile.TemporaryDirectory(prefix="recsys-evaluate-") as tmp:
        state_dir = Path(tmp) / "state"
        conn = open_engine_state(state_dir)
        try:
            import_trust_files(
                conn,
                Path(data_dir),
                by="recsys-evaluate",
                why="the offline evaluation's throwaway state trusts the directory's registry",
                now=now,
            )
            run = run_training(conn, state_dir, Path(data_dir), settings, now)
        finally:
            conn.close()
    artists = run.model.artists
    counts, tag_vocab = artist_tag_counts(artists, pool_artist_tags(run.pool.build.snapshot))
    return evaluate(
        EvaluationData(
            kind="data directory",
            plays=sp.csr_matrix(run.plays, dtype=np.float32),
            users=run.model.users,
            artists=artists,
            tag_counts=lambda _test: counts,
            tag_sets=top_tag_sets(counts, tag_vocab.ids),
        ),
        settings,
        seeds,
    )


def format_report(report: Mapping[str, Any]) -> str:
    """A human table of a report: one row per ranker, means over the seeds."""
    data = report.get("data", {})
    seeds = " ".join(str(s) for s in report["seeds"])
    lines = [
        f"{data.get('kind', 'data')}: {data.get('users', '?')} users, "
        f"{data.get('artists', '?')} artists, {data.get('pairs', '?')} pairs; "
        f"80/20 split per user, means over seeds {seeds}",
        f"{'':<12}" + "".join(f"{m:>14}" for m in METRICS),
    ]
    for name in (*RANKERS, *MIX_BLOCKS):
        values = report[name]
        cells = "".join(f"{values[m]:>14.4f}" if m in values else f"{'-':>14}" for m in METRICS)
        lines.append(f"{name:<12}{cells}")
    return "\n".join(lines)
