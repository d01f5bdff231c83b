"""Curator links between genuine artists: "similar" links with weights, and "block" pairs.

Similar links join artists of the same scene (mostly) or a neighbouring scene, chosen among
notable artists, plus a few that give small artists with little listening data a curated
neighbour. Block pairs are mostly popular artists of the same scene, exactly the pairs a model
trained on co-listening would otherwise link, so a graph that lets the model override a
block is caught.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.world.arrays import IntArray, as_int
from recsys.world.encoding import SECONDS_PER_DAY
from recsys.world.listening import ListeningContext
from recsys.world.moderation import EPOCH_ORDINAL
from recsys.world.synthetic_catalog import Catalog
from recsys.world.word_lists import BLOCK_NOTES, CURATORS, SIMILAR_NOTES


@dataclass(frozen=True, slots=True)
class CuratorLink:
    """One line of curation/links.jsonl (artists by index)."""

    artist_a: int
    artist_b: int
    kind: str
    weight: float
    curator: str
    note: str
    created_at: int  # epoch seconds


def _same_scene_partner(
    ctx: ListeningContext, catalog: Catalog, artists: IntArray, rng: np.random.Generator
) -> IntArray:
    return ctx.scene_artists.sample(catalog.artist_scene[artists], rng)


def build_links(
    catalog: Catalog, ctx: ListeningContext, rng: np.random.Generator
) -> tuple[CuratorLink, ...]:
    """Draw similar and block links; a pair is listed once, and a blocked pair never also
    appears as similar."""
    genuine = catalog.genuine_artists
    weight = catalog.artist_weight[:genuine]
    similar_count = max(10, round(genuine * 0.6))
    block_count = max(3, round(genuine * 0.02))

    notable = np.power(weight, 0.5)
    source = as_int(rng.choice(genuine, size=similar_count, p=notable / notable.sum()))
    small_count = max(2, similar_count // 20)
    small_pool = np.flatnonzero(catalog.artist_rank[:genuine] >= int(0.7 * genuine))
    source[:small_count] = rng.choice(small_pool, size=small_count)
    partner = _same_scene_partner(ctx, catalog, source, rng)
    cross = rng.random(similar_count) < 0.3
    cross[:small_count] = False
    neighbour_scene = ctx.scene_neighbours[
        catalog.artist_scene[source[cross]], rng.integers(0, 2, int(cross.sum()))
    ]
    partner[cross] = ctx.scene_artists.sample(as_int(neighbour_scene), rng)
    similar_weight = np.round(rng.uniform(0.4, 1.0, similar_count), 2)

    top_per_scene = _popular_by_scene(catalog, ctx)
    block_a = as_int(np.zeros(block_count))
    block_b = as_int(np.zeros(block_count))
    same_scene_blocks = max(1, round(block_count * 0.8))
    scenes_with_pairs = np.flatnonzero([len(top) >= 2 for top in top_per_scene])
    for i in range(block_count):
        if i < same_scene_blocks and len(scenes_with_pairs):
            top = top_per_scene[int(rng.choice(scenes_with_pairs))]
            a, b = rng.choice(top, size=2, replace=False)
        else:
            a = int(rng.integers(0, genuine))
            b = int(_same_scene_partner(ctx, catalog, as_int([a]), rng)[0])
        block_a[i], block_b[i] = a, b

    count = similar_count + block_count
    curator = rng.integers(0, len(CURATORS), count).tolist()
    similar_note = rng.integers(0, len(SIMILAR_NOTES), count).tolist()
    block_note = rng.integers(0, len(BLOCK_NOTES), count).tolist()
    today = catalog.today_ordinal - EPOCH_ORDINAL
    created = (
        (today - rng.integers(1, 366, count)) * SECONDS_PER_DAY
        + rng.integers(0, SECONDS_PER_DAY, count)
    ).tolist()
    flip = (rng.random(count) < 0.5).tolist()

    links: dict[tuple[int, int], CuratorLink] = {}
    for i in range(block_count):
        a, b = int(block_a[i]), int(block_b[i])
        key = (min(a, b), max(a, b))
        if a == b or key in links:
            continue
        j = similar_count + i
        first, second = (b, a) if flip[j] else (a, b)
        links[key] = CuratorLink(
            first,
            second,
            "block",
            1.0,
            CURATORS[curator[j]],
            BLOCK_NOTES[block_note[j]],
            int(created[j]),
        )
    for i in range(similar_count):
        a, b = int(source[i]), int(partner[i])
        key = (min(a, b), max(a, b))
        if a == b or key in links:
            continue
        first, second = (b, a) if flip[i] else (a, b)
        links[key] = CuratorLink(
            first,
            second,
            "similar",
            float(similar_weight[i]),
            CURATORS[curator[i]],
            SIMILAR_NOTES[similar_note[i]],
            int(created[i]),
        )
    return tuple(sorted(links.values(), key=lambda link: (link.created_at, link.artist_a)))


def _popular_by_scene(catalog: Catalog, ctx: ListeningContext) -> list[IntArray]:
    """The five most popular genuine artists of each scene."""
    genuine = catalog.genuine_artists
    order = np.argsort(catalog.artist_rank[:genuine], kind="stable")
    scene_of = catalog.artist_scene[order]
    return [as_int(order[scene_of == s][:5]) for s in range(ctx.scenes)]
