"""The only module that touches `implicit`: confidence transform, training, scoring.

Keyword arguments only, a fixed ``random_state`` and BLAS pinned to one thread around every
call into `implicit` (its own threads do the parallel work; a multi-threaded BLAS underneath
oversubscribes the cores and slows it down badly). Callers pass row numbers from a
``Vocabulary``; external ids never cross this boundary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import implicit.cpu.als
import implicit.gpu
import implicit.gpu.als
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from implicit.cpu.topk import topk as implicit_topk
from implicit.nearest_neighbours import bm25_weight
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AlsSettings:
    """Hyper-parameters (``config/default.toml`` ``[als]``)."""

    factors: int = 64
    regularization: float = 20.0
    regularization_scale: str = "absolute"
    iterations: int = 15
    cg_steps: int = 3
    confidence: str = "bm25"
    alpha: float = 0.01
    bm25_k1: float = 100.0
    bm25_b: float = 1.0
    tag_row_weight: float = 3.0
    tag_blend: float = 0.4
    seed: int = 42
    use_gpu: bool = False
    threads: int = 0  # 0 = all cores

    def __post_init__(self) -> None:
        if (
            self.factors < 1
            or self.iterations < 1
            or self.cg_steps < 1
            or self.regularization < 0
            or self.alpha <= 0
        ):
            raise ValueError(
                "ALS needs factors >= 1, iterations >= 1, cg_steps >= 1, regularization >= 0,"
                " alpha > 0"
            )
        if self.confidence not in CONFIDENCE_TRANSFORMS:
            raise ValueError(f"confidence must be one of {', '.join(CONFIDENCE_TRANSFORMS)}")
        if self.regularization_scale not in REGULARIZATION_SCALES:
            raise ValueError(
                f"regularization_scale must be one of {', '.join(REGULARIZATION_SCALES)}"
            )


CONFIDENCE_TRANSFORMS = ("bm25", "log")
REGULARIZATION_SCALES = ("absolute", "spectral")


def confidence(plays: sp.csr_matrix, settings: AlsSettings) -> sp.csr_matrix:
    """C = 1 + alpha * f(plays) on the observed cells.

    Play counts are heavy-tailed (a fan plays an artist thousands of times), so f damps them:
    ``log`` is log(1 + plays), as in Hu, Koren and Volinsky (2008); ``bm25`` is implicit's
    BM25 weighting, which also discounts listeners who play everything and artists everyone
    plays. BM25 with K1=100, B=1, alpha 0.01 and regularisation 20 is what tuning on
    hetrec2011-lastfm-2k found best (tests/benchmarks/bench_hetrec_als.py --grid). The 1
    makes every observed cell count more than an unobserved one.
    """
    if settings.confidence == "bm25":
        weighted = sp.csr_matrix(
            bm25_weight(plays, K1=settings.bm25_k1, B=settings.bm25_b), dtype=np.float32
        )
    else:
        weighted = plays.astype(np.float32, copy=True)
        weighted.data = np.log1p(weighted.data)
    weighted.data = 1.0 + settings.alpha * weighted.data
    return weighted


def top_singular_value(
    matrix: sp.csr_matrix, *, tolerance: float = 1e-6, limit: int = 200
) -> float:
    """The largest singular value of ``matrix``, by power iteration on its Gram matrix.

    Started from the all-ones vector, which for a non-negative matrix (a confidence matrix)
    already leans towards the top singular vector, so a few dozen sparse products settle it;
    no random start, so the same matrix always gives the same value.
    """
    if matrix.nnz == 0:
        return 0.0
    vector = np.ones(matrix.shape[1], dtype=np.float64)
    vector /= np.linalg.norm(vector)
    value = 0.0
    for _ in range(limit):
        image = matrix.T @ (matrix @ vector)
        norm = float(np.linalg.norm(image))
        if norm == 0.0:
            return 0.0
        vector = image / norm
        if abs(norm - value) <= tolerance * norm:
            return float(np.sqrt(norm))
        value = norm
    return float(np.sqrt(value))


def effective_regularization(user_items: sp.csr_matrix, settings: AlsSettings) -> float:
    """The lambda handed to `implicit`.

    ALS's penalty lambda * (|X|^2 + |Y|^2) shrinks every singular value of the fitted matrix by
    lambda and drops those below it, so what an absolute lambda does depends on the size of the
    data: the lambda tuned on hetrec2011 (1,892 listeners) leaves every factor of the
    400-listener demo at about 1e-7, a model that has learnt nothing. With ``spectral`` the
    setting is a fraction of the confidence matrix's largest singular value, which means the
    same thing on any size of data.
    """
    if settings.regularization_scale != "spectral":
        return settings.regularization
    top = top_singular_value(user_items)
    log.info(
        "ALS regularization %.4g = %.4g x the confidence matrix's top singular value %.4g",
        settings.regularization * top,
        settings.regularization,
        top,
    )
    return settings.regularization * top


def _make_model(settings: AlsSettings, regularization: float) -> Any:
    """implicit's ALS for ``settings``. Its conjugate-gradient steps per solve are an
    attribute, not a constructor argument (implicit 0.7), so they are set after: each step is
    another pass over every listener's plays, so an ALS iteration costs about
    (cg_steps + 1) such passes."""
    model: Any
    if settings.use_gpu and implicit.gpu.HAS_CUDA:
        model = implicit.gpu.als.AlternatingLeastSquares(
            factors=settings.factors,
            regularization=regularization,
            iterations=settings.iterations,
            random_state=settings.seed,
        )
    else:
        if settings.use_gpu:
            log.warning("als.use_gpu is set but implicit.gpu has no CUDA here; training on the CPU")
        model = implicit.cpu.als.AlternatingLeastSquares(
            factors=settings.factors,
            regularization=regularization,
            iterations=settings.iterations,
            num_threads=settings.threads,
            random_state=settings.seed,
        )
    model.cg_steps = settings.cg_steps
    return model


def train_factors(
    user_items: sp.csr_matrix, settings: AlsSettings
) -> tuple[FloatMatrix, FloatMatrix]:
    """Train on a users × items confidence matrix; returns (user factors, item factors)."""
    user_items = user_items.tocsr()
    regularization = effective_regularization(user_items, settings)
    with threadpool_limits(1, "blas"):  # implicit checks BLAS threads when the model is made
        model = _make_model(settings, regularization)
        model.fit(user_items, show_progress=False)
    if hasattr(model, "to_cpu") and not isinstance(model.user_factors, np.ndarray):
        model = model.to_cpu()
    return (
        np.ascontiguousarray(model.user_factors, dtype=np.float32),
        np.ascontiguousarray(model.item_factors, dtype=np.float32),
    )


def normalised_rows(factors: FloatMatrix) -> FloatMatrix:
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (factors / norms).astype(np.float32)


def _top_k_per_row(scores: FloatMatrix, k: int) -> tuple[npt.NDArray[np.int32], FloatMatrix]:
    """The ``k`` best columns of each row, best first (ties by column order)."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return (
        np.take_along_axis(part, order, axis=1).astype(np.int32),
        np.take_along_axis(part_scores, order, axis=1).astype(np.float32),
    )


def top_k_cosine(
    unit_factors: FloatMatrix, k: int, *, threads: int = 0
) -> tuple[npt.NDArray[np.int32], FloatMatrix]:
    """Each item's ``k`` nearest items by cosine (self excluded), best first.

    `implicit`'s own top-k (``implicit.cpu.topk``): the dot products in batches, the selection
    by a heap in C++ on ``threads`` threads (0 = all cores). On the 82,500-artist catalogue of
    SPEC's scale, the 100 nearest of every artist took 90 s with numpy's ``argpartition`` over
    whole blocks of scores (one thread, and about 4 GiB of transient blocks) and take 12 s
    here (cProfile of a training run on 100,000 listeners of that catalogue; the rebuild's
    "als" stage at 1M listeners went from 199 s to 115 s: tests/benchmarks/bench_rebuild.py).
    """
    count = unit_factors.shape[0]
    k = min(k, max(count - 1, 0))
    if k == 0:
        return np.zeros((count, 0), dtype=np.int32), np.zeros((count, 0), dtype=np.float32)
    factors = np.ascontiguousarray(unit_factors, dtype=np.float32)
    own = sp.identity(count, dtype=np.float32, format="csr")  # each item's self, filtered out
    with threadpool_limits(1, "blas"):
        neighbours, scores = implicit_topk(
            factors, factors, k, filter_query_items=own, num_threads=threads
        )
    return neighbours.astype(np.int32, copy=False), scores.astype(np.float32, copy=False)


def recommend_items(
    user_factors: FloatMatrix,
    item_factors: FloatMatrix,
    seen: sp.csr_matrix,
    k: int,
    *,
    batch: int = 2048,
) -> tuple[npt.NDArray[np.int32], FloatMatrix]:
    """Every user's top ``k`` items by dot product, leaving out the items they already have."""
    count, items = user_factors.shape[0], item_factors.shape[0]
    k = min(k, items)
    top = np.zeros((count, k), dtype=np.int32)
    top_scores = np.zeros((count, k), dtype=np.float32)
    if k == 0:
        return top, top_scores
    with threadpool_limits(1, "blas"):
        for start in range(0, count, batch):
            stop = min(start + batch, count)
            scores = user_factors[start:stop] @ item_factors.T
            block = seen[start:stop].tocoo()
            scores[block.row, block.col] = -np.inf
            top[start:stop], top_scores[start:stop] = _top_k_per_row(scores, k)
    return top, top_scores
