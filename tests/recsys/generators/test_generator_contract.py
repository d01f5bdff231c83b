"""The contract every registered generator meets, on a generated world (STYLE.md, point 4):
no ineligible track, the repetition rules, the listener's exclusions, a reason on every track,
no blocked pair, non-personalised output for opted-out users, and determinism for a seed."""

from __future__ import annotations

import pytest

from recsys.generators.context import UserProfile
from recsys.generators.registry import GENERATORS, GenerationRequest, run_generator
from tests.recsys.invariants import check_mix
from tests.recsys.trained_world import TrainedWorld, train_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> TrainedWorld:
    return train_world(tmp_path_factory.mktemp("contract"), users=600, artists=100, seed=4)


def _users(world: TrainedWorld) -> list[str]:
    engine = world.engine
    listeners = list(engine.history.users.ids)[:25]
    excluders = sorted(engine.exclusions)[:5]
    optouts = sorted(engine.optouts)[:3]
    bots = sorted(world.bots())[:3]
    return [*listeners, *excluders, *optouts, *bots, "never-seen-user"]


def _requests(world: TrainedWorld, name: str, user: UserProfile) -> list[GenerationRequest]:
    graph = world.engine.context.graph
    if name == "artist_radio":
        artists = sorted(graph.nodes, key=lambda a: -graph.degree(a))[:2]
        blocked = sorted({a for pair in world.truth["block_pairs"] for a in pair} & set(graph))
        return [GenerationRequest(user=user, seed_artist=a) for a in artists + blocked[:2]]
    if name == "track_radio":
        tracks = sorted(world.engine.gate.pool_track_ids)[:2]  # type: ignore[call-overload]
        return [GenerationRequest(user=user, seed_track=t) for t in tracks]
    return [GenerationRequest(user=user)]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_every_output_meets_the_invariants(world: TrainedWorld, name: str) -> None:
    settings = world.settings.generators
    radio = name.endswith("radio")
    produced = 0
    for user_id in _users(world):
        user = world.engine.profile(user_id)
        for request in _requests(world, name, user):
            result, _ = run_generator(name, world.engine, request)
            for mix in result.mixes:
                produced += len(mix.tracks)
                check_mix(
                    mix,
                    world.truth,
                    max_per_artist=settings.radio_max_tracks_per_artist
                    if radio
                    else settings.max_tracks_per_artist,
                    max_discovery_per_artist=settings.radio_max_tracks_per_artist
                    if radio
                    else settings.max_discovery_tracks_per_artist,
                    exclusions=user.exclusions,
                    personalised=user.personalised,
                    seed_artist=request.seed_artist,
                )
    assert produced > 0, f"{name} produced no track at all: the checks above proved nothing"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_output(world: TrainedWorld, name: str) -> None:
    user = world.engine.profile(next(iter(world.engine.history.users.ids)))
    for request in _requests(world, name, user):
        first, _ = run_generator(name, world.engine, request)
        again, _ = run_generator(name, world.engine, request)
        assert first == again


def test_opted_out_users_get_the_same_as_a_stranger(world: TrainedWorld) -> None:
    engine = world.engine
    optout = sorted(engine.optouts - set(engine.exclusions))[0]
    assert engine.history.of(optout).track_ids == ()  # their listens never reached the engine
    mine, _ = run_generator(
        "personal_mixes",
        engine,
        GenerationRequest(user=engine.profile(optout)),
    )
    stranger, _ = run_generator(
        "personal_mixes",
        engine,
        GenerationRequest(user=engine.profile("stranger")),
    )
    assert [[t.track_id for t in m.tracks] for m in mine.mixes] == [
        [t.track_id for t in m.tracks] for m in stranger.mixes
    ]
    assert mine.mixes, "cold-start mixes must not be empty"


def test_personalised_listeners_get_several_mixes_with_discoveries(world: TrainedWorld) -> None:
    engine = world.engine
    counts = []
    for user_id in list(engine.history.users.ids)[:40]:
        result, _ = run_generator(
            "personal_mixes",
            engine,
            GenerationRequest(user=engine.profile(user_id)),
        )
        counts.append(len(result.mixes))
        for mix in result.mixes:
            slots = {t.slot for t in mix.tracks}
            assert slots == {"familiar", "discovery"}
            assert mix.title.startswith("Mix ")
            assert 25 <= len(mix.tracks) <= 50
    assert sum(counts) >= 40
