"""The renderer gives exactly the bytes of ``orjson.dumps(mix.as_dict())``, for any mix, and
never serves a cached track part that no longer matches the track (a title changed)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.domain.mix import Mix, MixTrack, Reason
from recsys.payload.render import MixRenderer

text = st.text(min_size=1, max_size=12)
reasons = st.builds(
    Reason,
    st.sampled_from(["history", "curated_link", "als_neighbour", "followed_artist", "seed"]),
    st.dictionaries(
        text,
        st.one_of(text, st.floats(allow_nan=False), st.integers(-(2**63), 2**63 - 1)),
        max_size=3,
    ),
)
tracks = st.builds(
    MixTrack,
    st.sampled_from(["t1", "t2", "t3", "t\u00e9", "t\u2028"]),
    st.lists(text, min_size=1, max_size=3).map(tuple),
    text,
    reasons,
)
mixes = st.builds(
    Mix,
    text,
    st.sampled_from(["mix", "release_radar"]),
    text,
    st.datetimes(timezones=st.just(UTC)),
    text,
    text,
    st.lists(tracks, max_size=8).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(mixes, max_size=4))
def test_rendered_bytes_are_those_of_as_dict(batch: list[Mix]) -> None:
    renderer = MixRenderer(max_tracks=3)  # small, so the cache also starts over
    for mix in batch:
        assert renderer.mix(mix) == orjson.dumps(mix.as_dict())
    assert renderer.mixes(batch) == orjson.dumps([m.as_dict() for m in batch])


def test_a_track_whose_title_changed_is_rendered_anew() -> None:
    renderer = MixRenderer()
    reason = Reason("history", {"artist_id": "a"})
    now = datetime(2026, 11, 26, tzinfo=UTC)
    before = Mix("m", "mix", "M", now, "p", "v", (MixTrack("t", ("a",), "Old", reason),))
    after = before.with_tracks((MixTrack("t", ("a", "b"), "New", reason),))
    assert renderer.mix(before) == orjson.dumps(before.as_dict())
    assert b'"New"' in renderer.mix(after)
    assert renderer.mix(after) == orjson.dumps(after.as_dict())
