"""Property: whatever catalog a feed sends, the pool admits exactly the tracks the rule allows.

An independent oracle restates SPEC invariants 1 and 2 here, from the raw rows, so a bug in
the gate cannot hide behind the same bug in the check.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pool.ai_status import AiRules
from pool.state import open_state
from tests.factories import DataDir, flag, import_trusted, track_row
from tests.pool.conftest import NOW

ARTISTS = [f"ar{i}" for i in range(6)]
RULES = AiRules(exclude_threshold=0.9, review_threshold=0.5)

tracks_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "artists": st.lists(st.sampled_from(ARTISTS), min_size=1, max_size=3, unique=True),
            "label": st.sampled_from(["lb1", "lb2"]),
            "partner": st.sampled_from(["pt1", "pt2"]),
            "declaration": st.sampled_from(["none", "assisted", "generated"]),
            "flags": st.lists(
                st.tuples(
                    st.sampled_from(["detector", "label", "curator", "listener"]),
                    st.sampled_from([0.0, 0.3, 0.5, 0.7, 0.89, 0.9, 1.0]),
                ),
                max_size=2,
            ),
            "taken_down": st.booleans(),
            "lies": st.booleans(),
        }
    ),
    min_size=1,
    max_size=25,
)


def _oracle_allows(spec: dict[str, Any], verified: set[str], trusted_labels: set[str]) -> bool:
    if spec["partner"] != "pt1" or spec["label"] not in trusted_labels:
        return False
    if not set(spec["artists"]) <= verified:
        return False
    if spec["declaration"] == "generated" or spec["taken_down"]:
        return False
    for source, score in spec["flags"]:
        if source in ("curator", "label"):
            return False
        if source == "detector" and score >= RULES.review_threshold:
            return False  # excluded, or waiting for review: either way not served
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tracks=tracks_strategy,
    verified=st.sets(st.sampled_from(ARTISTS)),
    label_two_trusted=st.booleans(),
)
def test_pool_admits_exactly_what_the_rule_allows(
    tracks: list[dict[str, Any]], verified: set[str], label_two_trusted: bool
) -> None:
    data = DataDir(trusted_labels=["lb1", "lb2"] if label_two_trusted else ["lb1"])
    for artist in ARTISTS:
        data.artist(artist, verified=artist in verified)
    for index, spec in enumerate(tracks):
        track_id = f"t{index}"
        extra = {"trusted": True, "verified": True} if spec["lies"] else {}
        data.tracks.append(
            track_row(
                track_id,
                spec["artists"],
                label_id=spec["label"],
                partner=spec["partner"],
                ai_declaration=spec["declaration"],
                **extra,
            )
        )
        data.flags += [flag(track_id, source, score) for source, score in spec["flags"]]
        if spec["taken_down"]:
            data.takedowns.append((track_id, "copyright", "2026-11-01T00:00:00Z"))
    with tempfile.TemporaryDirectory() as tmp:
        root = data.write(Path(tmp) / "data")
        conn = open_state(Path(tmp) / "state")
        try:
            build = import_trusted(conn, Path(tmp) / "state", root, RULES, NOW).build
        finally:
            conn.close()
    trusted_labels = set(data.trusted_labels)
    expected = {
        f"t{i}" for i, spec in enumerate(tracks) if _oracle_allows(spec, verified, trusted_labels)
    }
    assert set(build.snapshot.tracks) == expected
    for track in build.snapshot.tracks.values():
        assert track.ai_declaration != "generated"
        assert set(track.artist_ids) <= verified
