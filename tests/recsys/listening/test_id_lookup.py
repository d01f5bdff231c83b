"""``CatalogIds`` answers as a dict of the ids would, from Arrow arrays of any shape."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.listening.id_lookup import CatalogIds

_IDS = st.text(alphabet=st.sampled_from("ab\u00e9\u4e2d \x00,"), max_size=5)


@settings(max_examples=200, deadline=None)
@given(st.lists(_IDS, unique=True, max_size=40), st.lists(_IDS, max_size=40), st.data())
def test_positions_are_the_dicts(
    catalogue: list[str], query: list[str], data: st.DataObject
) -> None:
    ids = CatalogIds(catalogue)
    where = {ident: position for position, ident in enumerate(catalogue)}
    array = pa.array(query + catalogue, type=pa.string())
    start = data.draw(st.integers(0, len(array)))
    part = array.slice(start)  # an offset into the buffers, as a block's slice has
    assert ids.positions(part).tolist() == [where.get(q, -1) for q in part.to_pylist()]
    distinct = pc.dictionary_encode(array).dictionary  # what the reader looks up
    assert ids.positions(distinct).tolist() == [where.get(q, -1) for q in distinct.to_pylist()]


def test_an_id_utf8_cannot_encode_is_left_out() -> None:
    ids = CatalogIds(["t1", "t\ud800", "t2"])
    assert len(ids) == 2
    assert ids.positions(pa.array(["t2", "t1", "t3"])).tolist() == [1, 0, -1]


def test_an_empty_catalogue_knows_nothing() -> None:
    assert CatalogIds([]).positions(pa.array(["t1", ""])).tolist() == [-1, -1]
    assert CatalogIds(["t1"]).positions(pa.array([], type=pa.string())).tolist() == []
