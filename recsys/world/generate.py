"""`generate_world`: draw a synthetic world from a config and write it as a data directory.

The only edge of the package: it checks and creates the output directory and writes files.
All randomness comes from one ``numpy.random.default_rng(config.seed)`` threaded through the
builders in a fixed order (plus generators seeded from it or from the seed: bot templates, the
daily-play cap's moves), and the clock is ``config.today``, so a config fixes every byte.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from recsys.world.arrays import as_int
from recsys.world.bots import BotPlan, plan_bots
from recsys.world.codes import BOT_CAMOUFLAGED_PUSHER, BOT_FARM_STREAMER, BOT_PUSHER
from recsys.world.config import WorldConfig, derive_sizes
from recsys.world.curation import build_links
from recsys.world.ids import assign_ids
from recsys.world.listening import build_context
from recsys.world.moderation import build_moderation
from recsys.world.synthetic_catalog import build_catalog
from recsys.world.truth import build_truth
from recsys.world.writer import (
    clock_for,
    write_catalog,
    write_links,
    write_listens,
    write_moderation,
    write_optouts,
    write_trust,
)

logger = logging.getLogger(__name__)


def truth_path(out_dir: Path) -> Path:
    """Where the truth file of a world written to `out_dir` goes: beside it, not inside."""
    absolute = Path(out_dir).absolute()
    return absolute.parent / f"{absolute.name}.truth.json"


def _prepare(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"{out_dir} exists and is not a directory")
        if any(out_dir.iterdir()):
            raise ValueError(f"{out_dir} exists and is not empty; refusing to write a world there")
    out_dir.mkdir(parents=True, exist_ok=True)


def _pick_optouts(config: WorldConfig, plan: BotPlan, rng: np.random.Generator) -> np.ndarray:
    humans = np.ones(config.users, dtype=bool)
    humans[plan.users] = False
    pool = np.flatnonzero(humans)
    count = min(len(pool), round(config.users * config.optout_share))
    return as_int(np.sort(rng.choice(pool, size=count, replace=False)))


def generate_world(out_dir: Path, config: WorldConfig) -> dict[str, int]:
    """Write a world into `out_dir` (created; must not exist or be empty) and its truth file
    beside it. Returns counts of what was written."""
    out_dir = Path(out_dir)
    _prepare(out_dir)
    rng = np.random.default_rng(config.seed)
    sizes = derive_sizes(config)
    catalog = build_catalog(config, sizes, rng)
    moderation = build_moderation(config, catalog, rng)
    ctx = build_context(config, catalog)
    plan = plan_bots(config.users, sizes, catalog, moderation, rng)
    links = build_links(catalog, ctx, rng)
    optouts = _pick_optouts(config, plan, rng)
    ids = assign_ids(catalog, config.users)
    clock = clock_for(config)
    logger.info("writing catalogue of %d tracks to %s", catalog.tracks, out_dir)
    write_catalog(out_dir, catalog, moderation, ids)
    write_trust(out_dir, catalog, ids, clock, rng)
    write_moderation(out_dir, moderation, ids, clock)
    write_links(out_dir, links, ids, clock)
    write_optouts(out_dir, optouts, ids)
    logger.info("writing listens of %d users", config.users)
    stats = write_listens(
        out_dir, config=config, catalog=catalog, ctx=ctx, plan=plan, ids=ids, clock=clock, rng=rng
    )
    truth = build_truth(
        config=config,
        catalog=catalog,
        moderation=moderation,
        plan=plan,
        links=links,
        optouts=optouts,
        ids=ids,
    )
    truth_file = truth_path(out_dir)
    partial = truth_file.with_name(truth_file.name + ".partial")
    partial.write_text(json.dumps(truth, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    partial.replace(truth_file)
    return {
        "users": config.users,
        "artists": config.artists,
        "farm_artists": int((catalog.artist_farm >= 0).sum()),
        "catalog_artists": catalog.artists,
        "labels": len(catalog.label_code),
        "partners": len(catalog.partner_code),
        "releases": len(catalog.release_code),
        "tracks": catalog.tracks,
        "farm_tracks": catalog.tracks - catalog.genuine_tracks,
        "eligible_tracks": int(moderation.eligible.sum()),
        "flags": len(moderation.flag_track),
        "takedowns": len(moderation.takedown_track),
        "links": len(links),
        "bot_users": len(plan.users),
        "farm_streamers": len(plan.users_of_kind(BOT_FARM_STREAMER)),
        "pushers": len(plan.users_of_kind(BOT_PUSHER)),
        "camouflaged_pushers": len(plan.users_of_kind(BOT_CAMOUFLAGED_PUSHER)),
        "optouts": len(optouts),
        "listen_files": stats.files,
        "listen_rows": stats.rows,
        "plays": stats.plays,
        "follows": stats.follows,
        "exclusions": stats.exclusions,
    }
