"""The final filter on a stored mix: a flag, takedown or revocation takes effect at read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pool.ai_status import AiVerdicts
from pool.gate import ServingExclusions
from recsys.domain.exclusions import NO_EXCLUSIONS, UserExclusions
from recsys.domain.mix import Mix, MixTrack, Reason
from recsys.generators.batch import BatchGenerator
from recsys.generators.batch_arrays import build_generation_arrays
from recsys.serving.final_filter import (
    ServingGate,
    chunk_filter_changes,
    filter_changes,
    final_filter,
)
from tests.recsys.generators.chunk_exclusions import told_to_exclude
from tests.recsys.trained_world import train_world

AT = datetime(2026, 11, 26, tzinfo=UTC)
WHY = Reason("history", {"artist_id": "a"})


def _mix(*tracks: tuple[str, str]) -> Mix:
    return Mix(
        "m1",
        "mix",
        "Mix 1: A and more",
        AT,
        "pool-1",
        "als-1",
        tuple(MixTrack(i, (a,), i, WHY) for i, a in tracks),
    )


def _gate(
    *,
    excluded: dict[str, str] | None = None,
    taken_down: frozenset[str] = frozenset(),
    pool: frozenset[str] = frozenset({"t1", "t2", "t3", "t4", "t_pending"}),
) -> ServingGate:
    verdicts = AiVerdicts(excluded=excluded or {}, pending_review=frozenset({"t_pending"}))
    return ServingGate("pool-1", pool, ServingExclusions(verdicts, taken_down))


def test_a_clean_mix_passes_unchanged() -> None:
    mix = _mix(("t1", "a"), ("t2", "b"), ("t3", "c"))
    assert final_filter(mix, _gate()) == (mix, {})


def test_flags_takedowns_and_pool_exits_are_removed_with_counts() -> None:
    mix = _mix(
        ("t1", "a"), ("t2", "b"), ("t3", "c"), ("t4", "d"), ("t_gone", "e"), ("t_pending", "f")
    )
    filtered, dropped = final_filter(
        mix, _gate(excluded={"t2": "ai_flagged"}, taken_down=frozenset({"t3"}))
    )
    assert [t.track_id for t in filtered.tracks] == ["t1", "t4"]
    assert dropped == {"ai_flagged": 1, "taken_down": 1, "not_in_pool": 1, "ai_review_pending": 1}


def test_removals_never_leave_an_artist_back_to_back() -> None:
    mix = _mix(("t1", "a"), ("t2", "b"), ("t3", "a"), ("t4", "c"))
    filtered, dropped = final_filter(mix, _gate(excluded={"t2": "ai_confirmed"}))
    assert [t.track_id for t in filtered.tracks] == ["t1", "t4"]
    assert dropped["back_to_back_after_removal"] == 1


def test_the_listeners_exclusions_apply_at_read() -> None:
    mix = _mix(("t1", "a"), ("t2", "b"), ("t3", "c"))
    filtered, dropped = final_filter(mix, _gate(), UserExclusions(artists=frozenset({"b"})))
    assert [t.track_id for t in filtered.tracks] == ["t1", "t3"]
    assert dropped == {"user_exclusion": 1}


def test_the_chunk_form_of_the_filter_question_answers_as_the_one_output_form(
    tmp_path: Path,
) -> None:
    """``chunk_filter_changes`` (the rebuild's question over a chunk of listeners) says, for
    each listener, what ``filter_changes`` says of their mixes and Release Radar: with a
    withheld track, a listener excluding a track they were given and one excluding an
    artist, and everyone else untouched."""
    world = train_world(tmp_path, users=120, artists=30, seed=7)
    engine = world.engine
    arrays = build_generation_arrays(engine.context, engine.history)
    generator = BatchGenerator(engine.context, arrays, engine.history)
    profiles = [engine.profile(u) for u in engine.known_users()]
    chunk = generator.run(profiles)
    n = len(chunk.users)
    track_user, artist_user = 3, 5
    given_track = chunk.members_of(track_user, 0)[0]
    given_artist = chunk.members_of(artist_user, 3)[-1]
    # A track only one other listener is given, withheld now.
    holders: dict[int, set[int]] = {}
    for user in range(n):
        for part in (0, 2):
            for track in chunk.members_of(user, part):
                holders.setdefault(track, set()).add(user)
    withheld, withheld_user = next(
        (track, next(iter(users)))
        for track, users in sorted(holders.items())
        if len(users) == 1 and not users & {track_user, artist_user}
    )
    withheld_id = str(arrays.track_ids[withheld])
    told = told_to_exclude(chunk, track_user, given_track, artist_user, given_artist)
    exclusions = {
        track_user: UserExclusions(frozenset(), frozenset({str(arrays.track_ids[given_track])})),
        artist_user: UserExclusions(frozenset({str(arrays.artist_ids[given_artist])}), frozenset()),
    }
    gate = replace(
        engine.gate,
        exclusions=replace(engine.gate.exclusions, taken_down=frozenset({withheld_id})),
    )
    mask = np.zeros(len(arrays.track_ids), np.bool_)
    mask[arrays.tracks_of(gate.withheld)] = True
    expected = []
    for user in range(n):
        tracks = [str(arrays.track_ids[t]) for p in (0, 2) for t in told.members_of(user, p)]
        artists = [str(arrays.artist_ids[a]) for p in (1, 3) for a in told.members_of(user, p)]
        expected.append(filter_changes(gate, tracks, artists, exclusions.get(user, NO_EXCLUSIONS)))
    assert np.flatnonzero(expected).tolist() == sorted({track_user, artist_user, withheld_user})
    assert chunk_filter_changes(told, mask).tolist() == expected
