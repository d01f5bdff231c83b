"""Ranking-quality and coherence metrics for the offline report (docs/contract.md section 7).

All functions are pure: they take recommended item lists and held-out items, and return a float.
They follow the usual definitions so figures compare with published ones:

* precision@k: hits in the first ``k`` recommendations divided by ``k`` (not by the list
  length, so an engine is not rewarded for returning fewer items);
* nDCG@k with binary relevance: ``sum(1 / log2(rank + 1))`` over the hits at ranks 1..k,
  divided by the ideal DCG of ``min(k, |test|)`` hits, so a user with 3 test items can reach 1.0;
* both averaged over the users with at least one test item (users with nothing held out carry no
  signal and would only dilute the mean);
* coherence: the mean over lists of the mean pairwise Jaccard overlap of the artists' tag sets,
  the contract's "mean pairwise tag overlap between artists in a mix".
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from itertools import combinations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "coherence",
    "dcg_discounts",
    "jaccard",
    "list_coherence",
    "ndcg_at_k",
    "precision_at_k",
    "relevant_from_csr",
]

Lists = Sequence[Sequence[int]] | np.ndarray


def relevant_from_csr(test: sp.spmatrix | sp.sparray) -> list[frozenset[int]]:
    """Per-row sets of the column indices stored in ``test`` (the held-out items of each user)."""
    csr = sp.csr_matrix(test)
    return [
        frozenset(csr.indices[csr.indptr[u] : csr.indptr[u + 1]].tolist())
        for u in range(csr.shape[0])
    ]


def dcg_discounts(k: int) -> np.ndarray:
    """``1 / log2(rank + 1)`` for ranks 1..k, the DCG weight of a hit at each rank."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _pairs(
    recommended: Lists, relevant: Sequence[Collection[int]], k: int
) -> Iterable[tuple[list[int], Collection[int]]]:
    """Yield (first k recommendations, relevant set) for each user with a relevant item."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if len(recommended) != len(relevant):
        raise ValueError(
            f"recommended has {len(recommended)} users but relevant has {len(relevant)}"
        )
    for recs, rel in zip(recommended, relevant, strict=True):
        if len(rel) == 0:
            continue
        yield [int(i) for i in list(recs)[:k]], rel


def precision_at_k(recommended: Lists, relevant: Sequence[Collection[int]], k: int = 10) -> float:
    """Mean over users with ≥ 1 relevant item of ``|top-k ∩ relevant| / k``.

    ``recommended[u]`` is user ``u``'s ranked list (item indices, best first; a negative index
    such as implicit's ``-1`` padding never matches), ``relevant[u]`` that user's held-out items.
    A repeated item counts once. Returns 0.0 when no user has a relevant item.
    """
    scores = [
        sum(1 for i in set(recs) if i in rel) / k for recs, rel in _pairs(recommended, relevant, k)
    ]
    return float(np.mean(scores)) if scores else 0.0


def ndcg_at_k(recommended: Lists, relevant: Sequence[Collection[int]], k: int = 10) -> float:
    """Mean over users with ≥ 1 relevant item of binary-relevance nDCG@k.

    DCG sums ``1 / log2(rank + 1)`` over the ranks (1-based, ≤ k) holding a relevant item, each
    item counted once; the ideal DCG puts ``min(k, |relevant|)`` hits at the top. Returns 0.0
    when no user has a relevant item.
    """
    discounts = dcg_discounts(k)
    ideal_cum = np.cumsum(discounts)
    scores = []
    for recs, rel in _pairs(recommended, relevant, k):
        seen: set[int] = set()
        dcg = 0.0
        for rank, item in enumerate(recs):
            if item in rel and item not in seen:
                dcg += discounts[rank]
            seen.add(item)
        scores.append(dcg / ideal_cum[min(k, len(rel)) - 1])
    return float(np.mean(scores)) if scores else 0.0


def jaccard(a: Collection[str], b: Collection[str]) -> float | None:
    """Jaccard overlap ``|a ∩ b| / |a ∪ b|`` of two tag sets; ``None`` when both are empty.

    Two untagged artists say nothing about coherence, so the pair is skipped rather than
    counted as 0 (which would punish lists of obscure artists) or 1 (which would reward them).
    """
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    if union == 0:
        return None
    return len(sa & sb) / union


def list_coherence(items: Sequence[int], item_tags: Sequence[Collection[str]]) -> float | None:
    """Mean pairwise Jaccard of the tag sets of ``items``; ``None`` if no pair counts.

    A list with fewer than two items, or whose every pair is two untagged artists, has no
    coherence to measure. Negative indices (padding) are ignored.
    """
    tags = [item_tags[int(i)] for i in items if int(i) >= 0]
    values = [v for a, b in combinations(tags, 2) if (v := jaccard(a, b)) is not None]
    return float(np.mean(values)) if values else None


def coherence(lists: Lists, item_tags: Sequence[Collection[str]]) -> float:
    """Mean over lists of :func:`list_coherence`, lists with nothing to measure skipped.

    ``item_tags[i]`` is the tag set of item ``i`` (e.g. an artist's top-10 tags). Higher means
    the lists hang together in style; docs/contract.md section 7 asks mixes to beat plain ALS top
    lists on it. Returns 0.0 when no list can be measured.
    """
    values = [v for items in lists if (v := list_coherence(items, item_tags)) is not None]
    return float(np.mean(values)) if values else 0.0
