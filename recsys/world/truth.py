"""The truth file: what the generator knows and the engine must rediscover.

Written beside the data directory (never inside it, so the engine cannot read it by accident)
for tests and benchmarks to check outputs against. Lists are of external ids, sorted; genuine
users are never listed (a million of them would bloat it), only bots, targets and opt-outs.
"""

from __future__ import annotations

import numpy as np

from recsys.world.arrays import BoolArray, IntArray, as_int
from recsys.world.bots import BotPlan
from recsys.world.codes import (
    BOT_KIND_NAMES,
    DECLARATION_ASSISTED,
    DECLARATION_GENERATED,
    DETECTOR_EXCLUDE,
    DETECTOR_REVIEW,
    SOURCE_CURATOR,
)
from recsys.world.config import WorldConfig
from recsys.world.curation import CuratorLink
from recsys.world.ids import WorldIds
from recsys.world.moderation import Moderation
from recsys.world.synthetic_catalog import Catalog


def _sorted_ids(names: tuple[str, ...], indices: IntArray | BoolArray) -> list[str]:
    chosen = np.flatnonzero(indices) if indices.dtype == np.bool_ else indices
    return sorted(names[i] for i in chosen.tolist())


def build_truth(
    *,
    config: WorldConfig,
    catalog: Catalog,
    moderation: Moderation,
    plan: BotPlan,
    links: tuple[CuratorLink, ...],
    optouts: IntArray,
    ids: WorldIds,
) -> dict[str, object]:
    """The truth object (JSON-ready)."""
    genuine_artists = catalog.genuine_artists
    genuine_partners = catalog.partner_farm < 0
    genuine_labels = catalog.label_farm < 0
    farm_artists = catalog.artist_farm >= 0
    farm_tracks = catalog.track_farm >= 0
    detector = moderation.max_detector_score(catalog.tracks)
    pairs: dict[str, list[list[str]]] = {"block": [], "similar": []}
    for link in links:
        pairs[link.kind].append(sorted((ids.artist[link.artist_a], ids.artist[link.artist_b])))
    bots = {
        BOT_KIND_NAMES[kind]: ids.users(plan.users_of_kind(kind))
        for kind in range(len(BOT_KIND_NAMES))
    }
    groups: list[object] = [
        {
            "kind": BOT_KIND_NAMES[group.kind],
            "user_ids": ids.users(group.members),
            "farm_partner_id": (
                ids.partner[int(np.flatnonzero(catalog.partner_farm == group.farm)[0])]
                if group.farm >= 0
                else None
            ),
            "target_artist_id": ids.artist[group.target] if group.target >= 0 else None,
        }
        for group in plan.groups
    ]
    return {
        "seed": config.seed,
        "today": config.today.isoformat(),
        "users": config.users,
        "artists": genuine_artists,
        "catalog_artists": catalog.artists,
        "tracks": catalog.tracks,
        "listen_days": config.listen_days,
        "scenes": {scene.name: list(scene.tags) for scene in catalog.scenes},
        "scene_neighbours": {
            scene.name: sorted({catalog.scenes[n].name for n in scene.neighbours})
            for scene in catalog.scenes
        },
        "artist_scene": {
            ids.artist[a]: catalog.scenes[s].name
            for a, s in enumerate(catalog.artist_scene[:genuine_artists].tolist())
        },
        "trusted_partner_ids": _sorted_ids(ids.partner, catalog.partner_trusted),
        "untrusted_partner_ids": _sorted_ids(ids.partner, ~catalog.partner_trusted),
        "trusted_label_ids": _sorted_ids(ids.label, catalog.label_trusted),
        "untrusted_label_ids": _sorted_ids(ids.label, ~catalog.label_trusted),
        "verified_artist_ids": _sorted_ids(ids.artist, catalog.artist_verified),
        "unverified_artist_ids": _sorted_ids(ids.artist, ~catalog.artist_verified),
        "genuine_unverified_artist_ids": _sorted_ids(
            ids.artist, ~catalog.artist_verified & ~farm_artists
        ),
        "untrusted_genuine_partner_ids": _sorted_ids(
            ids.partner, ~catalog.partner_trusted & genuine_partners
        ),
        "untrusted_genuine_label_ids": _sorted_ids(
            ids.label, ~catalog.label_trusted & genuine_labels
        ),
        "farm_artist_ids": _sorted_ids(ids.artist, farm_artists),
        "farm_track_ids": _sorted_ids(ids.track, farm_tracks),
        "farm_partner_ids": _sorted_ids(ids.partner, ~genuine_partners),
        "farm_label_ids": _sorted_ids(ids.label, ~genuine_labels),
        "declared_generated_track_ids": _sorted_ids(
            ids.track, moderation.declaration == DECLARATION_GENERATED
        ),
        "assisted_track_ids": _sorted_ids(
            ids.track, moderation.declaration == DECLARATION_ASSISTED
        ),
        "hidden_ai_track_ids": _sorted_ids(ids.track, moderation.hidden_ai),
        "detector_exclude_track_ids": _sorted_ids(ids.track, detector >= DETECTOR_EXCLUDE),
        "detector_review_track_ids": _sorted_ids(
            ids.track, (detector >= DETECTOR_REVIEW) & (detector < DETECTOR_EXCLUDE)
        ),
        "detector_noise_track_ids": _sorted_ids(ids.track, moderation.detector_noise),
        "curator_flagged_track_ids": _sorted_ids(
            ids.track, moderation.tracks_flagged_by(SOURCE_CURATOR)
        ),
        "label_flagged_track_ids": _sorted_ids(ids.track, moderation.label_flagged),
        "listener_flagged_track_ids": _sorted_ids(ids.track, moderation.listener_flagged),
        "taken_down_track_ids": _sorted_ids(
            ids.track, as_int(np.unique(moderation.takedown_track))
        ),
        "expected_eligible_track_ids": _sorted_ids(ids.track, moderation.eligible),
        "isrc_version_pairs": sorted(
            sorted((ids.track[a], ids.track[b])) for a, b in catalog.version_pairs
        ),
        "bot_user_ids": dict(bots),
        "bot_groups": groups,
        "bot_target_artist_ids": _sorted_ids(ids.artist, plan.targets()),
        "optout_user_ids": ids.users(optouts),
        "block_pairs": sorted(pairs["block"]),
        "similar_pairs": sorted(pairs["similar"]),
    }
