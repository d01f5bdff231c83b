"""The id <-> row-number map every bulk reader fills: new ids numbered in order of first
appearance, whatever mix of known, new and repeated ids a batch holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recsys.domain.vocabulary import Vocabulary


def test_add_many_numbers_new_ids_in_order_and_keeps_known_ones() -> None:
    vocabulary = Vocabulary(["a", "b"])
    assert vocabulary.add_many(["c", "a", "d", "c", "b"]) == [2, 0, 3, 2, 1]
    assert list(vocabulary.ids) == ["a", "b", "c", "d"]
    assert list(vocabulary.indices_or(["d", "x", "a"], -1)) == [3, -1, 0]


def test_extend_new_appends_distinct_new_ids_and_refuses_any_other() -> None:
    vocabulary = Vocabulary(["a"])
    assert vocabulary.extend_new(["b", "c"]) == 1
    assert list(vocabulary.ids) == ["a", "b", "c"]
    assert vocabulary.index_of("c") == 2
    for refused in (["d", "a"], ["d", "d"]):  # one already here; one given twice
        with pytest.raises(ValueError, match="already here or given twice"):
            vocabulary.extend_new(refused)
        assert list(vocabulary.ids) == ["a", "b", "c"]  # nothing changed
        assert vocabulary.index_of("d") is None


@given(st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=12), max_size=6))
def test_add_many_agrees_with_adding_one_at_a_time(batches: list[list[str]]) -> None:
    many, one_by_one = Vocabulary(), Vocabulary()
    for batch in batches:
        assert many.add_many(batch) == [one_by_one.add(ident) for ident in batch]
    assert list(many.ids) == list(one_by_one.ids)
