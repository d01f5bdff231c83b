"""Two rules of the oracle's personal mixes (which the compiled ones are held to), on small
generated worlds: each anchor's queue offers a track once (its own favourites, then its
popular tracks without them), and a region whose neighbours the listener all knows is filled
with familiar tracks up to the target length."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from recsys.generators.context import anonymous
from recsys.generators.neighbourhood import artist_affinity
from tests.oracle import personal_mixes
from tests.recsys.trained_world import train_world


def test_each_anchor_offers_each_of_its_tracks_once(tmp_path: Path) -> None:
    world = train_world(tmp_path, users=200, artists=40, seed=11)
    ctx = world.engine.context
    checked = 0
    for user_id in list(world.engine.history.users.ids)[:40]:
        user = world.engine.profile(user_id)
        affinity = artist_affinity(user.history, ctx.catalog)
        anchors = dict(sorted(affinity.items(), key=lambda kv: (-kv[1], kv[0]))[:8])
        taste = personal_mixes._taste(ctx, user, frozenset(affinity), False)
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
