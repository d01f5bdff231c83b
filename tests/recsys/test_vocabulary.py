"""The id <-> row-number map every bulk reader fills: new ids numbered in order of first
appearance, whatever mix of known, new and repeated ids a batch holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from recsys.domain.vocabulary import Vocabulary


def test_add_many_numbers_new_ids_in_order_and_keeps_known_ones() -> None:
    vocabulary = Vocabulary(["a", "b"])
    assert vocabulary.add_many(["c", "a", "d", "c", "b"]) == [2, 0, 3, 2, 1]
    assert list(vocabulary.ids) == ["a", "b", "c", "d"]
    assert vocabulary.known_many(["d", "x", "a"]) == [True, False, True]


@given(st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=12), max_size=6))
def test_add_many_agrees_with_adding_one_at_a_time(batches: list[list[str]]) -> None:
    many, one_by_one = Vocabulary(), Vocabulary()
    for batch in batches:
        assert many.add_many(batch) == [one_by_one.add(ident) for ident in batch]
    assert list(many.ids) == list(one_by_one.ids)
