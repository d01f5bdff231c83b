"""The fraud screen's user ranges: every user in exactly one range, ranges about as heavy."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from recsys.listening.fraud_kernel import user_ranges


def _starts(rows_per_user: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(rows_per_user)]).astype(np.int64)


@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 9))
def test_ranges_cover_every_user_once(rows_per_user: list[int], parts: int) -> None:
    bounds = user_ranges(_starts(rows_per_user), parts)
    assert bounds[0] == 0
    assert bounds[-1] == len(rows_per_user)
    assert 1 <= len(bounds) - 1 <= max(1, parts)
    assert (np.diff(bounds) > 0).all() or len(rows_per_user) == 0


def test_ranges_split_rows_evenly() -> None:
    starts = _starts([10] * 100)
    bounds = user_ranges(starts, 4)
    assert bounds.tolist() == [0, 25, 50, 75, 100]
    rows = np.diff(starts[bounds])
    assert rows.tolist() == [250, 250, 250, 250]


def test_no_users_is_one_empty_range() -> None:
    assert user_ranges(_starts([]), 3).tolist() == [0, 0]


def test_one_heavy_user_keeps_its_rows_together() -> None:
    bounds = user_ranges(_starts([1, 1000, 1]), 4)
    assert bounds[0] == 0 and bounds[-1] == 3
    assert len(bounds) - 1 <= 3
