"""The seeded per-user train/test split."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluation.split import n_test_items, train_test_split


@pytest.mark.parametrize(
    ("n_pairs", "expected"),
    [(0, 0), (1, 0), (2, 1), (3, 1), (5, 1), (7, 1), (8, 2), (10, 2), (13, 3), (50, 10)],
)
def test_n_test_items(n_pairs: int, expected: int) -> None:
    assert n_test_items(n_pairs) == expected


def test_n_test_items_keeps_one_in_train() -> None:
    assert n_test_items(2, test_fraction=0.9) == 1
    assert n_test_items(4, test_fraction=0.9) == 3


def _matrix() -> sp.csr_matrix:
    """Users with 1, 2, 5 and 10 pairs; values are distinct play counts."""
    dense = np.zeros((4, 12), dtype=np.float32)
    dense[0, 3] = 7
    dense[1, [0, 11]] = [1, 2]
    dense[2, [1, 2, 4, 6, 8]] = [10, 20, 30, 40, 50]
    dense[3, :10] = np.arange(100, 110)
    return sp.csr_matrix(dense)


def test_split_partitions_each_user() -> None:
    m = _matrix()
    train, test = train_test_split(m, seed=1)
    assert isinstance(train, sp.csr_matrix)
    assert isinstance(test, sp.csr_matrix)
    assert train.shape == test.shape == m.shape
    assert train.dtype == test.dtype == np.float32
    # disjoint and summing back to the input, values (play counts) preserved
    assert train.multiply(test).nnz == 0
    np.testing.assert_array_equal((train + test).toarray(), m.toarray())
    assert np.diff(test.indptr).tolist() == [0, 1, 1, 2]
    assert np.diff(train.indptr).tolist() == [1, 1, 4, 8]


def test_split_draws_from_default_rng_per_pair() -> None:
    m = _matrix()
    keys = np.random.default_rng(5).random(m.nnz)
    expected = np.zeros(m.shape, dtype=bool)
    for u in range(m.shape[0]):
        lo, hi = m.indptr[u], m.indptr[u + 1]
        chosen = np.argsort(keys[lo:hi])[: n_test_items(hi - lo)]
        expected[u, m.indices[lo:hi][chosen]] = True
    _, test = train_test_split(m, seed=5)
    np.testing.assert_array_equal(test.toarray() != 0, expected)


def test_split_is_deterministic_for_a_seed() -> None:
    m = sp.random(30, 40, density=0.3, format="csr", random_state=0, dtype=np.float32)
    a_train, a_test = train_test_split(m, seed=3)
    b_train, b_test = train_test_split(m, seed=3)
    assert (a_train != b_train).nnz == 0
    assert (a_test != b_test).nnz == 0
    _, c_test = train_test_split(m, seed=4)
    assert (a_test != c_test).nnz > 0


def test_split_fraction_is_about_twenty_percent() -> None:
    m = sp.random(200, 300, density=0.2, format="csr", random_state=1, dtype=np.float32)
    _, test = train_test_split(m, seed=2)
    assert test.nnz / m.nnz == pytest.approx(0.2, abs=0.01)


def test_split_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(_matrix(), seed=1, test_fraction=1.0)
