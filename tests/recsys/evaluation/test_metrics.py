"""Hand-computed cases for the offline ranking and coherence metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluation.metrics import (
    coherence,
    dcg_discounts,
    jaccard,
    list_coherence,
    ndcg_at_k,
    precision_at_k,
    relevant_from_csr,
)


def test_precision_averages_over_users_with_test_items_only() -> None:
    recs = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    relevant = [{1, 3}, {9}, set()]  # user 2 has no test item: not counted
    # user 0: 2 hits / 3, user 1: 0 hits / 3
    assert precision_at_k(recs, relevant, k=3) == pytest.approx(1 / 3)


def test_precision_divides_by_k_and_truncates_to_k() -> None:
    # only the first 2 count; 9 (relevant) is at rank 3
    assert precision_at_k([[1, 2, 9]], [{1, 9}], k=2) == pytest.approx(0.5)
    # a short list is not rewarded: 1 hit out of k=4
    assert precision_at_k([[1]], [{1}], k=4) == pytest.approx(0.25)


def test_precision_ignores_padding_and_counts_repeats_once() -> None:
    assert precision_at_k(np.array([[5, 5, -1, -1]]), [{5}], k=4) == pytest.approx(0.25)


def test_precision_accepts_numpy_arrays() -> None:
    recs = np.array([[3, 0], [1, 2]])
    assert precision_at_k(recs, [frozenset({0}), frozenset({2, 3})], k=2) == pytest.approx(0.5)


def test_ndcg_hand_computed() -> None:
    recs = [[1, 2, 3], [1, 2, 3]]
    relevant = [{2}, {1, 3, 5, 7}]
    # user 0: hit at rank 2 -> 1/log2(3); ideal = 1 hit at rank 1 = 1
    u0 = 1 / math.log2(3)
    # user 1: hits at ranks 1 and 3 -> 1 + 1/2; ideal over min(3, 4) = 3 hits
    u1 = 1.5 / (1 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(recs, relevant, k=3) == pytest.approx((u0 + u1) / 2)
    assert u1 == pytest.approx(0.70391, abs=1e-5)


def test_ndcg_ideal_uses_min_k_and_test_size() -> None:
    # two test items both at the top: perfect, although k = 10
    assert ndcg_at_k([[4, 7, 1, 2]], [{4, 7}], k=10) == pytest.approx(1.0)
    # the same two items at ranks 3 and 4
    expected = (1 / 2 + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k([[1, 2, 4, 7]], [{4, 7}], k=10) == pytest.approx(expected)


def test_ndcg_counts_a_repeated_hit_once() -> None:
    assert ndcg_at_k([[3, 3]], [{3, 4}], k=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_metrics_without_any_test_item_are_zero() -> None:
    assert precision_at_k([[1, 2]], [set()], k=2) == 0.0
    assert ndcg_at_k([[1, 2]], [set()], k=2) == 0.0


def test_metrics_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="k must be positive"):
        precision_at_k([[1]], [{1}], k=0)
    with pytest.raises(ValueError, match="users"):
        ndcg_at_k([[1], [2]], [{1}], k=1)


def test_dcg_discounts() -> None:
    np.testing.assert_allclose(dcg_discounts(3), [1.0, 1 / math.log2(3), 0.5])


def test_relevant_from_csr() -> None:
    test = sp.csr_matrix(np.array([[0, 2, 0, 1], [0, 0, 0, 0], [5, 0, 0, 0]]))
    assert relevant_from_csr(test) == [frozenset({1, 3}), frozenset(), frozenset({0})]


def test_jaccard() -> None:
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard({"a"}, set()) == 0.0
    assert jaccard(set(), set()) is None
    assert jaccard(("rock", "rock"), ["rock"]) == 1.0


def test_list_coherence_skips_pairs_of_untagged_items() -> None:
    tags = [frozenset({"a", "b"}), frozenset({"b", "c"}), frozenset(), frozenset()]
    # pairs (0,1)=1/3, (0,2)=0, (1,2)=0; (2,3) would be both empty but is not in this list
    assert list_coherence([0, 1, 2], tags) == pytest.approx(1 / 9)
    # (0,2)=0, (0,3)=0, (2,3) skipped
    assert list_coherence([0, 2, 3], tags) == pytest.approx(0.0)
    assert list_coherence([2, 3], tags) is None
    assert list_coherence([0], tags) is None
    assert list_coherence([0, 1, -1], tags) == pytest.approx(1 / 3)


def test_coherence_is_mean_over_measurable_lists() -> None:
    tags = [frozenset({"a"}), frozenset({"a"}), frozenset(), frozenset()]
    assert coherence([[0, 1], [2, 3]], tags) == pytest.approx(1.0)  # 2nd list skipped
    assert coherence([[0, 1], [0, 2]], tags) == pytest.approx(0.5)
    assert coherence(np.array([[0, 1, 2]]), tags) == pytest.approx(1 / 3)
    assert coherence([[2, 3]], tags) == 0.0
