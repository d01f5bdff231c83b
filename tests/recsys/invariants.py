"""SPEC section 6 invariants 1-4 and the opt-out rule, checked on one generated mix.

The checks use the world's truth file, not the engine's own gate, so a bug in the gate cannot
hide behind the same bug in the check.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from recsys.curation.links import canonical_pair
from recsys.domain.exclusions import UserExclusions
from recsys.domain.mix import Mix

REASON_TYPES = {"history", "curated_link", "als_neighbour", "followed_artist", "seed"}


def forbidden_tracks(truth: dict[str, Any]) -> set[str]:
    """Every track the truth says may never reach a listener."""
    keys = (
        "farm_track_ids",
        "declared_generated_track_ids",
        "detector_exclude_track_ids",
        "detector_review_track_ids",
        "curator_flagged_track_ids",
        "taken_down_track_ids",
        "label_flagged_track_ids",
    )
    return {t for key in keys for t in truth[key]}


def check_mix(
    mix: Mix,
    truth: dict[str, Any],
    *,
    max_per_artist: int,
    max_discovery_per_artist: int,
    exclusions: UserExclusions,
    personalised: bool,
    seed_artist: str | None = None,
) -> None:
    eligible = set(truth["expected_eligible_track_ids"])
    forbidden = forbidden_tracks(truth)
    verified = set(truth["verified_artist_ids"])
    blocked = {canonical_pair(a, b) for a, b in truth["block_pairs"]}
    ids = [t.track_id for t in mix.tracks]
    # Invariants 1 and 2: only trusted, verified, non-AI, not taken-down tracks.
    assert set(ids) <= eligible, set(ids) - eligible
    assert not set(ids) & forbidden
    for track in mix.tracks:
        assert set(track.artist_ids) <= verified
    # Invariant 3: no reason links a blocked pair; a radio never plays an artist blocked with
    # its seed.
    for track in mix.tracks:
        via = track.reason.via.get("artist_id")
        if track.reason.type in ("curated_link", "als_neighbour") and via is not None:
            for artist in track.artist_ids:
                assert canonical_pair(via, artist) not in blocked, (via, artist)
        if seed_artist is not None:
            for artist in track.artist_ids:
                assert artist == seed_artist or canonical_pair(seed_artist, artist) not in blocked
    # Invariant 4: no duplicate, no artist back-to-back, caps, the user's exclusions.
    assert len(ids) == len(set(ids))
    for previous, current in zip(mix.tracks, mix.tracks[1:], strict=False):
        assert not set(previous.artist_ids) & set(current.artist_ids), (previous, current)
    per_artist = Counter(a for t in mix.tracks for a in t.artist_ids)
    assert max(per_artist.values(), default=0) <= max_per_artist
    discovery = Counter(a for t in mix.tracks if t.slot == "discovery" for a in t.artist_ids)
    assert max(discovery.values(), default=0) <= max_discovery_per_artist
    for track in mix.tracks:
        assert exclusions.allows(track.track_id, track.artist_ids)
    # Transparency: every track says why; opted-out users never get their history back.
    for track in mix.tracks:
        assert track.reason.type in REASON_TYPES
    if not personalised:
        assert all(t.reason.type not in ("history", "followed_artist") for t in mix.tracks)
