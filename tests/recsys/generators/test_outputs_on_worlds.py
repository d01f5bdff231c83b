"""Outputs of every user of generated worlds: nothing untrusted or AI-generated ever appears.

The first test counts forbidden tracks over all outputs of all users of a 2,000-user world
(issue 4's target); the second is a Hypothesis property over worlds of varying seed and size.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys.generators.registry import GENERATORS, GenerationRequest, run_generator
from tests.recsys.invariants import check_mix, forbidden_tracks
from tests.recsys.trained_world import TrainedWorld, train_world


def _outputs(world: TrainedWorld, users: list[str], radios: int):  # type: ignore[no-untyped-def]
    engine = world.engine
    for user_id in users:
        user = engine.profile(user_id)
        for name in ("personal_mixes", "release_radar"):
            result, _ = run_generator(name, engine, GenerationRequest(user=user))
            for mix in result.mixes:
                yield name, user, None, mix
    graph = engine.context.graph
    for artist in sorted(graph.nodes)[:radios]:
        request = GenerationRequest(seed_artist=artist)
        result, _ = run_generator("artist_radio", engine, request)
        yield "artist_radio", None, artist, result.mixes[0]


@pytest.mark.slow
def test_no_forbidden_track_in_any_output_of_any_user(tmp_path: Path) -> None:
    world = train_world(tmp_path, users=2000, artists=200, seed=21)
    forbidden = forbidden_tracks(world.truth)
    assert len(forbidden) > 100, "the world must plant spam, AI and takedowns to test anything"
    users = world.engine.known_users()
    assert len(users) >= 1900
    seen: Counter[str] = Counter()
    for name, _user, _seed, mix in _outputs(world, users, radios=100):
        seen[name] += len(mix.tracks)
        leaked = {t.track_id for t in mix.tracks} & forbidden
        assert not leaked, (name, mix.mix_id, leaked)
    assert seen["personal_mixes"] > 30_000
    assert seen["release_radar"] > 1_000
    assert seen["artist_radio"] > 1_000


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 10_000), users=st.integers(150, 400), artists=st.integers(40, 90))
def test_invariants_hold_for_every_generator_on_any_world(
    seed: int, users: int, artists: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        world = train_world(Path(tmp), users=users, artists=artists, seed=seed)
    generators = world.settings.generators
    engine = world.engine
    sample = [
        *list(engine.history.users.ids)[:8],
        *sorted(engine.exclusions)[:4],
        *sorted(engine.optouts)[:2],
        "stranger",
    ]
    for name, user, seed_artist, mix in _outputs(world, sample, radios=5):
        radio = name == "artist_radio"
        check_mix(
            mix,
            world.truth,
            max_per_artist=generators.radio_max_tracks_per_artist
            if radio
            else generators.max_tracks_per_artist,
            max_discovery_per_artist=generators.radio_max_tracks_per_artist
            if radio
            else generators.max_discovery_tracks_per_artist,
            exclusions=user.exclusions if user is not None else engine.profile("").exclusions,
            personalised=user.personalised if user is not None else False,
            seed_artist=seed_artist,
        )
    assert set(GENERATORS) >= {"personal_mixes", "release_radar", "artist_radio"}
