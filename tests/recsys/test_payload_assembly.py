"""The compiled JSON splitter finds each item of a list rendered by one ``orjson.dumps``:
titles, ids and names of a rebuild are rendered that way, many at once."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.payload.assembly import json_items

_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUES, max_size=12))
def test_each_item_is_what_orjson_renders_of_it_alone(values: list[object]) -> None:
    text = orjson.dumps(values)
    starts, stops = json_items(np.frombuffer(text, np.uint8))
    assert [text[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)] == [
        orjson.dumps(value) for value in values
    ]


def test_strings_with_quotes_backslashes_and_separators() -> None:
    values = ['q"', "\\", 'a\\"', "x,y]", "{[", "\x00\n", "ünï", ""]
    text = orjson.dumps(values)
    starts, stops = json_items(np.frombuffer(text, np.uint8))
    assert [orjson.loads(text[a:b]) for a, b in zip(starts, stops, strict=True)] == values
