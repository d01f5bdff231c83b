"""The repetition rules, stated once in the compiled generators (``batch_kernel._admit``) and
reached from Python through ``Engine.admit_in_order`` (how radios use them), each rule on a
hand-picked list of real pool tracks with a known answer."""

from __future__ import annotations

from collections import Counter

import pytest

from recsys.domain.exclusions import UserExclusions
from recsys.domain.mix import MixTrack, Reason
from recsys.engine.loading import Engine
from recsys.generators.context import anonymous
from tests.recsys.trained_world import train_world


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return train_world(tmp_path_factory.mktemp("rules"), users=150, artists=90, seed=21).engine


def _track(engine: Engine, track_id: str, via: str | None = None) -> MixTrack:
    track = engine.context.catalog.tracks[track_id]
    reason = Reason("history", {"artist_id": via or track.primary_artist_id})
    return MixTrack(track_id, track.artist_ids, track.title, reason)


def _solo_tracks(engine: Engine, artist: str) -> list[str]:
    """Tracks crediting ``artist`` alone, most listened first."""
    tracks = engine.context.catalog.tracks
    return [
        t for t in engine.context.catalog.artist_tracks[artist] if tracks[t].artist_ids == (artist,)
    ]


def _artists_with(engine: Engine, count: int) -> list[str]:
    """Artists with at least ``count`` solo tracks."""
    return sorted(
        a for a in engine.context.catalog.artist_tracks if len(_solo_tracks(engine, a)) >= count
    )


def _ids(tracks: list[MixTrack]) -> list[str]:
    return [t.track_id for t in tracks]


def test_a_track_and_another_version_of_its_recording_play_once(engine: Engine) -> None:
    tracks = engine.context.catalog.tracks
    by_isrc: dict[str, list[str]] = {}
    for track_id, track in tracks.items():
        by_isrc.setdefault(track.isrc, []).append(track_id)
    first, second = next(ids for ids in by_isrc.values() if len(ids) > 1)[:2]
    other = next(
        t
        for t in tracks
        if tracks[t].isrc != tracks[first].isrc
        and set(tracks[t].artist_ids).isdisjoint(tracks[first].artist_ids)
    )
    drawn = [_track(engine, t) for t in (first, first, other, second)]
    kept = engine.admit_in_order(None, drawn, "", 3, 10)
    assert _ids(kept) == [first, other]


def test_at_most_cap_tracks_per_artist_and_never_back_to_back(engine: Engine) -> None:
    busy, other = _artists_with(engine, 4)[:2]
    mine = _solo_tracks(engine, busy)[:4]
    theirs = _solo_tracks(engine, other)[:2]
    drawn = [_track(engine, t) for t in [*mine, *theirs]]
    kept = _ids(engine.admit_in_order(None, drawn, "", 2, 10))
    # Two of the busy artist's (the cap), spread among the other's: no artist twice in a row.
    assert kept == [mine[0], theirs[0], mine[1], theirs[1]]
    # With nothing to put between them, the second track of an artist is dropped.
    assert _ids(engine.admit_in_order(None, drawn[:4], "", 4, 10)) == [mine[0]]


def test_a_listeners_exclusions_count_featured_appearances(engine: Engine) -> None:
    tracks = engine.context.catalog.tracks
    featuring = next(t for t in sorted(tracks) if len(tracks[t].artist_ids) > 1)
    featured = tracks[featuring].artist_ids[1]
    plain = next(
        t for t in sorted(tracks) if featured not in tracks[t].artist_ids and t != featuring
    )
    drawn = [_track(engine, featuring), _track(engine, plain)]
    user = anonymous("u", UserExclusions(artists=frozenset({featured})))
    assert _ids(engine.admit_in_order(user, drawn, "", 3, 10)) == [plain]
    user = anonymous("u", UserExclusions(tracks=frozenset({plain})))
    assert _ids(engine.admit_in_order(user, drawn, "", 3, 10)) == [featuring]
    assert _ids(engine.admit_in_order(None, drawn, "", 3, 10)) == [featuring, plain]


def test_no_track_of_an_artist_blocked_with_its_reasons_artist_or_the_seed(engine: Engine) -> None:
    blocked = engine.context.blocked
    assert blocked, "the world plants curator blocks"
    anchor = sorted(blocked)[0]
    partner = sorted(blocked[anchor])[0]
    partner_track = _solo_tracks(engine, partner)[0] if _solo_tracks(engine, partner) else None
    if partner_track is None:
        pytest.skip("the blocked partner has no solo track in this world")
    drawn = [_track(engine, partner_track, via=anchor)]
    assert engine.admit_in_order(None, drawn, "", 3, 10) == []
    own = [_track(engine, partner_track)]  # named after the partner itself: allowed
    assert _ids(engine.admit_in_order(None, own, "", 3, 10)) == [partner_track]
    assert engine.admit_in_order(None, own, anchor, 3, 10) == []  # but not on the anchor's radio


def test_the_first_limit_of_the_spread_order(engine: Engine) -> None:
    artists = _artists_with(engine, 1)[:6]
    drawn = [_track(engine, _solo_tracks(engine, a)[0]) for a in artists]
    kept = engine.admit_in_order(None, drawn, "", 3, 4)
    assert _ids(kept) == _ids(drawn[:4])
    assert max(Counter(a for t in kept for a in t.artist_ids).values()) == 1
