"""Two rules of the personal mixes, on small generated worlds: each anchor's queue offers a
track once (its own favourites, then its popular tracks without them), and a region whose
neighbours the listener all knows is filled with familiar tracks up to the target length."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from recsys.generators import personal_mixes
from recsys.generators.context import anonymous
from recsys.generators.neighbourhood import artist_affinity
from recsys.generators.steps import UserExclusions
from tests.recsys.trained_world import train_world


def test_each_anchor_offers_each_of_its_tracks_once(tmp_path: Path) -> None:
    world = train_world(tmp_path, users=200, artists=40, seed=11)
    ctx = world.engine.context
    checked = 0
    for user_id in list(world.engine.history.users.ids)[:40]:
        user = world.engine.profile(user_id)
        affinity = artist_affinity(user.history, ctx.catalog)
        anchors = dict(sorted(affinity.items(), key=lambda kv: (-kv[1], kv[0]))[:8])
        taste = personal_mixes._taste(ctx, user, frozenset(affinity))
        offered: dict[str, list[str]] = defaultdict(list)
        for track_id, anchor, _reason in personal_mixes._familiar_candidates(
            ctx, user, anchors, taste
        ):
            offered[anchor].append(track_id)
        for anchor, tracks in offered.items():
            assert len(tracks) == len(set(tracks)), (user_id, anchor)
            assert tracks[: len(taste.own_tracks.get(anchor, []))] == taste.own_tracks.get(
                anchor, []
            )
            checked += 1
    assert checked > 100


def test_a_region_without_unknown_neighbours_is_filled_with_familiar_tracks(
    tmp_path: Path,
) -> None:
    # A catalogue of 30 artists: a stranger's mix around the most listened ones holds every
    # artist of the graph, so no neighbour is left to discover.
    world = train_world(tmp_path, users=160, artists=30, seed=5)
    ctx, settings = world.engine.context, world.settings.generators
    result = personal_mixes.generate(ctx, anonymous("stranger"))
    assert result.mixes, result.notes
    for mix in result.mixes:
        assert settings.mix_min_tracks <= len(mix.tracks) <= settings.mix_target_tracks
    filled = [m for m in result.mixes if all(t.slot == "familiar" for t in m.tracks)]
    assert filled and len(filled[0].tracks) == settings.mix_target_tracks


def test_exclusions_that_touch_nothing_keep_the_shared_non_personalised_mixes(
    tmp_path: Path,
) -> None:
    """A stranger's exclusions that change nothing get the shared mixes (no generation of
    their own), and those are exactly what a generation with the exclusions makes; the
    exclusions that do change something get their own."""
    world = train_world(tmp_path, users=200, artists=60, seed=23)
    ctx = world.engine.context
    shared = personal_mixes.generate_non_personalised(ctx, anonymous("x"))
    in_mixes = sorted({t.track_id for m in shared.mixes for t in m.tracks})
    mixed_artists = sorted({a for m in shared.mixes for t in m.tracks for a in t.artist_ids})
    popular = ctx.catalog.popular_artists(ctx.settings.cold_start_artists)
    every_artist = sorted(ctx.catalog.artist_tracks)
    every_track = sorted(ctx.catalog.tracks)
    # Artists and tracks that are neither popular nor in the mixes: excluding them changes
    # nothing.
    aside = sorted(set(every_artist) - set(popular) - set(mixed_artists))
    unheard = sorted(set(every_track) - set(in_mixes))
    assert unheard
    rng = random.Random(5)
    kept = own = 0
    for case in range(80):
        artists = frozenset(rng.sample(every_artist, rng.randint(0, 3)))
        tracks = frozenset(rng.sample(every_track, rng.randint(0, 4)))
        if case % 4 == 0:
            artists = frozenset(rng.sample(aside, min(len(aside), rng.randint(0, 3))))
            tracks = frozenset(rng.sample(unheard, rng.randint(1, 4)))
        elif case % 4 == 1:
            tracks |= {rng.choice(in_mixes)}
        elif case % 4 == 2:
            artists |= {rng.choice(mixed_artists)}
        elif case % 4 == 3:
            artists |= {rng.choice(popular)}
        exclusions = UserExclusions(artists=artists, tracks=tracks)
        user = anonymous(f"user-{case}", exclusions)
        found = personal_mixes.generate_non_personalised(ctx, user)
        expected = personal_mixes._generate(ctx, user)
        assert found == expected, (artists, tracks)
        untouched = personal_mixes._untouched(ctx, shared, exclusions)
        kept += untouched
        own += not untouched
    assert kept >= 10 and own >= 20
