"""The compiled generators (``batch``) give every listener exactly what the Python generators
give: the same mixes, tracks, reasons, titles and ids, the same Release Radar and as many
notes, on generated worlds with curator blocks, follows, exclusions ("don't play this") and
opt-outs.

If they drift apart, a rebuild would store mixes that the service's own on-request path
(the Python generators) would not make; this is what holds the two to one algorithm.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from recsys.generators.batch import BatchGenerator, UserOutput
from recsys.generators.batch_arrays import build_generation_arrays
from recsys.generators.context import GenerationContext, UserProfile
from tests.oracle import personal_mixes, release_radar
from tests.recsys.generators.chunk_exclusions import told_to_exclude
from tests.recsys.trained_world import TrainedWorld, train_world


def _generator(world: TrainedWorld) -> BatchGenerator:
    engine = world.engine
    arrays = build_generation_arrays(engine.context, engine.history)
    return BatchGenerator(engine.context, arrays, engine.history)


def _personal(user: UserProfile) -> bool:
    return bool(user.personalised and user.history.track_ids)


def _assert_same(
    ctx: GenerationContext, profiles: list[UserProfile], outputs: list[UserOutput]
) -> None:
    for user, output in zip(profiles, outputs, strict=True):
        mixes = personal_mixes.generate(ctx, user)
        radar = release_radar.generate(ctx, user)
        assert output.mixes == mixes.mixes, user.user_id
        assert output.release_radar == radar.mixes[0], user.user_id
        assert output.notes == len(mixes.notes) + len(radar.notes), user.user_id


@pytest.mark.slow
@pytest.mark.parametrize(("users", "artists", "seed"), [(700, 90, 13), (400, 40, 5)])
def test_every_listener_gets_what_the_python_generators_make(
    tmp_path: Path, users: int, artists: int, seed: int
) -> None:
    world = train_world(tmp_path, users=users, artists=artists, seed=seed)
    engine = world.engine
    assert engine.context.blocked, "the world must plant curator blocks to test them"
    profiles = [engine.profile(u) for u in engine.known_users()]
    personal = [p for p in profiles if _personal(p)]
    assert len(personal) > 0.8 * len(profiles)
    assert any(p.follows for p in personal)
    assert any(p.exclusions.artists for p in personal)
    assert any(p.exclusions.tracks for p in personal)
    assert any(not p.personalised for p in profiles)  # opt-outs: the popular anchors
    profiles.append(engine.profile("never-seen"))
    generator = _generator(world)
    # Chunks of uneven size: what a chunk leaves in the scratch arrays never leaks into the next.
    outputs = []
    for start, stop in [(0, 1), (1, 50), (50, 51), (51, len(profiles))]:
        outputs += generator.generate(profiles[start:stop])
    assert sum(len(o.mixes) for o in outputs) >= len(profiles)
    assert sum(len(o.release_radar.tracks) for o in outputs) > 0
    _assert_same(engine.context, profiles, outputs)


def _tag_cosine(ctx: GenerationContext, a: str, b: str) -> float:
    model = ctx.model
    assert model is not None
    rows = [model.artists.index_of(x) for x in (a, b)]
    if None in rows:
        return 0.0
    return float(model.artist_tags[rows[0]].multiply(model.artist_tags[rows[1]]).sum())


@pytest.mark.slow
def test_a_mix_takes_its_familiar_tracks_from_the_anchors_that_share_its_style(
    tmp_path: Path,
) -> None:
    """``mix_familiar_artists``: the compiled generators and the oracle agree under each
    limit, and a mix's familiar tracks then come from fewer of its anchors whose tags lie
    closer together (more only when those cannot fill it)."""
    world = train_world(tmp_path, users=400, artists=90, seed=13)
    engine = world.engine
    profiles = [engine.profile(u) for u in [*engine.known_users(), "never-seen"]]

    def familiar_artists(limit: int) -> list[list[str]]:
        settings = replace(engine.context.settings, mix_familiar_artists=limit, top_artists=20)
        ctx = replace(engine.context, settings=settings)
        arrays = build_generation_arrays(ctx, engine.history)
        outputs = BatchGenerator(ctx, arrays, engine.history).generate(profiles)
        _assert_same(ctx, profiles, outputs)
        return [
            list(dict.fromkeys(t.reason.via["artist_id"] for t in m.tracks if t.slot == "familiar"))
            for o in outputs
            for m in o.mixes
        ]

    every, few = familiar_artists(0), familiar_artists(4)
    # Fewer artists can leave a mix short of its length once no artist may play twice in a
    # row: rarely.
    assert len(few) >= 0.97 * len(every)
    assert sum(map(len, few)) / len(few) < 0.8 * sum(map(len, every)) / len(every)
    ctx = engine.context

    def closeness(mixes: list[list[str]]) -> float:
        pairs = [_tag_cosine(ctx, a, b) for artists in mixes for a, b in combinations(artists, 2)]
        return sum(pairs) / len(pairs)

    assert closeness(few) > 1.1 * closeness(every)


def test_an_empty_chunk_compiles_and_generates_nothing(tmp_path: Path) -> None:
    world = train_world(tmp_path, users=60, artists=20, seed=3)
    generator = _generator(world)
    generator.warm_up()
    assert generator.generate([]) == []


def test_a_listener_is_what_the_compiled_generators_read_of_a_profile(tmp_path: Path) -> None:
    world = train_world(tmp_path, users=300, artists=40, seed=5)
    engine = world.engine
    generator = _generator(world)
    users = [*engine.known_users(), "never-seen"]
    listeners = [engine.listener(u) for u in users]
    profiles = [engine.profile(u) for u in users]
    for listener, profile in zip(listeners, profiles, strict=True):
        assert listener.user_id == profile.user_id
        assert listener.personalised == profile.personalised
        assert listener.exclusions == profile.exclusions
        if profile.personalised:
            assert listener.follows == profile.follows
    assert 0 < sum(not p.personalised for p in profiles) < len(users)
    # Run on listeners or on their profiles, the compiled generators give the same.
    by_listener = generator.run(listeners)
    by_profile = generator.run(profiles)
    assert [generator.output(by_listener, i) for i in range(len(users))] == [
        generator.output(by_profile, i) for i in range(len(users))
    ]


def test_a_chunk_names_the_users_whose_output_holds_what_they_excluded(tmp_path: Path) -> None:
    """The safety net before payloads are stored straight from rows: the generators never
    pick what a listener excluded, so only a chunk told otherwise finds one."""
    world = train_world(tmp_path, users=120, artists=30, seed=7)
    engine = world.engine
    generator = _generator(world)
    chunk = generator.run([engine.profile(u) for u in engine.known_users()])
    assert not chunk.excluding().any()
    track_user, artist_user = 3, 5
    given_track = chunk.members_of(track_user, 0)[0]
    given_artist = chunk.members_of(artist_user, 3)[-1]
    told = told_to_exclude(chunk, track_user, given_track, artist_user, given_artist)
    assert np.flatnonzero(told.excluding()).tolist() == sorted({track_user, artist_user})


def test_rows_of_artist_ids_become_sorted_numbers_without_the_unknown(tmp_path: Path) -> None:
    arrays = _generator(train_world(tmp_path, users=60, artists=20, seed=3)).arrays
    known = list(arrays.artist_ids)
    rows = [
        frozenset(known[:3]),
        frozenset(),
        frozenset({"ar-unknown", known[5]}),
        frozenset({"ar-unknown"}),
        frozenset(reversed(known[2:9])),
    ]
    indptr, values = arrays.artists_csr(rows)
    found = [values[indptr[i] : indptr[i + 1]].tolist() for i in range(len(rows))]
    number = arrays.artist_number
    assert found == [sorted(number[a] for a in r if a in number) for r in rows]
    assert found[2] == [number[known[5]]] and found[3] == []
    empty_ptr, empty = arrays.artists_csr([])
    assert empty_ptr.tolist() == [0] and empty.size == 0


@pytest.mark.slow
def test_both_discovery_rankings_are_what_the_oracle_makes(tmp_path: Path) -> None:
    """``discovery_ranking`` "graph" (edge strength to the anchors) and "listener" (the
    listener's own model score, alone or blended with the graph's): the compiled generators
    and the oracle agree on every listener under each, and the ranking changes what the
    discovery slots hold."""
    world = train_world(tmp_path, users=400, artists=40, seed=5)
    engine = world.engine

    def ranked_by(
        ranking: str, weight: float = 0.0, per_slot: float = 1.0
    ) -> tuple[GenerationContext, list[UserOutput]]:
        settings = replace(
            engine.context.settings,
            discovery_ranking=ranking,
            discovery_graph_weight=weight,
            discovery_candidates_per_slot=per_slot,
        )
        ctx = replace(engine.context, settings=settings)
        arrays = build_generation_arrays(ctx, engine.history)
        return ctx, BatchGenerator(ctx, arrays, engine.history).generate(profiles)

    profiles = [engine.profile(u) for u in [*engine.known_users(), "never-seen"]]
    for ranking, weight, per_slot in (
        ("graph", 0.0, 1.0),
        ("listener", 0.5, 1.0),
        ("listener", 0.0, 0.0),
        ("listener", 0.0, 2.0),
        ("listener", 0.0, 1.0),
    ):
        ctx, outputs = ranked_by(ranking, weight, per_slot)
        _assert_same(ctx, profiles, outputs)
    by_graph = ranked_by("graph")[1]
    # Across mixes, a listener's best candidates take their slots: fewer, better discoveries
    # than each mix's own best (``discovery_candidates_per_slot`` 0).
    each_mix = ranked_by("listener", 0.0, 0.0)[1]

    def discoveries(found: list[UserOutput]) -> list[tuple[str, ...]]:
        return [
            tuple(t.track_id for m in o.mixes for t in m.tracks if t.slot == "discovery")
            for o in found
        ]

    assert discoveries(outputs) != discoveries(by_graph)
    assert sum(map(len, discoveries(outputs))) < sum(map(len, discoveries(each_mix)))
