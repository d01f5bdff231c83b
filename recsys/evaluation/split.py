"""Deterministic per-user train/test split of (user, item) pairs for offline evaluation.

docs/contract.md section 7 compares engines "on the same split", so the split is a pure function of
the matrix and a seed: ``numpy.random.default_rng(seed)`` draws one key per stored pair, and each
user's pairs with the smallest keys go to test. Splitting per user (rather than over all pairs)
guarantees that every user with at least two pairs has something to learn from *and* something to
be evaluated on, so precision is not dragged down by users whose whole history was held out.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

__all__ = ["VALIDATION_SEED_OFFSET", "n_test_items", "train_test_split", "validation_split"]

DEFAULT_TEST_FRACTION = 0.2


def n_test_items(n_pairs: int, test_fraction: float = DEFAULT_TEST_FRACTION) -> int:
    """How many of a user's ``n_pairs`` pairs go to test.

    ``round(test_fraction * n_pairs)`` (halves rounded up), but at least 1 and at most
    ``n_pairs - 1`` so that a user with ≥ 2 pairs keeps at least one on each side; a user with
    fewer than 2 pairs keeps everything in train (there is nothing to hold out).
    """
    if n_pairs < 2:
        return 0
    wanted = math.floor(test_fraction * n_pairs + 0.5)
    return min(max(wanted, 1), n_pairs - 1)


def train_test_split(
    matrix: sp.spmatrix | sp.sparray,
    seed: int,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split the stored pairs of ``matrix`` (users × items) into train and test, per user.

    Each user with ``n`` ≥ 2 stored pairs gets :func:`n_test_items` of them in test, chosen
    uniformly at random by ``numpy.random.default_rng(seed)``; the rest, with their values
    (play counts), stay in train. Returns ``(train, test)``, both csr with the shape and dtype of
    ``matrix``, disjoint, summing to ``matrix``. The same matrix and seed always give the same
    split.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    csr = sp.csr_matrix(matrix, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    n_users = csr.shape[0]
    counts = np.diff(csr.indptr)
    row_of = np.repeat(np.arange(n_users), counts)

    keys = np.random.default_rng(seed).random(csr.nnz)
    # order pairs by (user, key): within each user's block, the first n_test go to test
    order = np.lexsort((keys, row_of))
    rank_in_row = np.empty(csr.nnz, dtype=np.int64)
    rank_in_row[order] = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], counts)
    n_test = np.array([n_test_items(int(c), test_fraction) for c in counts], dtype=np.int64)
    is_test = rank_in_row < np.repeat(n_test, counts)

    def part(mask: np.ndarray) -> sp.csr_matrix:
        out = sp.csr_matrix(
            (csr.data[mask], (row_of[mask], csr.indices[mask])),
            shape=csr.shape,
            dtype=csr.dtype,
        )
        out.sort_indices()
        return out

    return part(~is_test), part(is_test)


# A validation split's seed is the test split's plus this: a different draw, the same for a seed.
VALIDATION_SEED_OFFSET = 1_000


def validation_split(
    train: sp.spmatrix | sp.sparray, seed: int, fraction: float = DEFAULT_TEST_FRACTION
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """A validation split carved from a test split's ``train`` pairs, per user, as
    :func:`train_test_split` carves the test split: ``(fit, validation)``. Every setting is
    chosen on validation, so the test pairs judge a choice and never make it."""
    return train_test_split(train, seed + VALIDATION_SEED_OFFSET, fraction)
