"""Genuine listeners and the per-chunk assembly of listens, follows and exclusions.

A genuine listener has one primary scene and up to two more (usually a neighbour), a few
favourite artists in the primary scene, and a log-normal number of rows (median ~40, long
tail). Each row picks a scene, then an artist by popularity within it (sometimes a favourite,
sometimes anywhere: exploration), then a track by popularity within the artist; a third of the
rows replay one of the user's own tracks. Plays cluster in listening sessions on a few days,
follow a daily rhythm, never precede the track's release (early ones move to a random day
since it), and are mostly full length with some skips. No one plays one track more than
`GENUINE_DAILY_PLAY_CAP` (12) times a day: heavier days spill to other days after the release
or lose their extra rows, so that only bots loop. A few listeners stream AI-farm tracks too,
legitimately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recsys.world.arrays import IntArray, as_int
from recsys.world.bots import BotPlan, bot_rows
from recsys.world.config import WorldConfig
from recsys.world.encoding import SECONDS_PER_DAY
from recsys.world.listening import (
    ListeningContext,
    ListenRows,
    cap_daily_plays,
    merge_same_day,
)

EXCLUDE_ARTIST = 0
EXCLUDE_TRACK = 1
EXCLUSION_KIND_NAMES: tuple[str, ...] = ("artist", "track")
SPILL_STREAM = 0x5B111  # names the random stream of the daily-play cap's moves


def genuine_rows(
    users: IntArray, ctx: ListeningContext, config: WorldConfig, rng: np.random.Generator
) -> ListenRows:
    """Rows for the given genuine users (before same-day aggregation)."""
    n = len(users)
    if n == 0:
        return ListenRows.empty()
    counts = as_int(
        np.clip(np.round(rng.lognormal(math.log(config.median_listen_rows), 1.0, n)), 1, 5000)
    )
    scenes = ctx.scenes
    primary = as_int(rng.choice(scenes, size=n, p=ctx.scene_weights))

    def another_scene() -> IntArray:
        near = rng.random(n) < 0.6
        neighbour = ctx.scene_neighbours[primary, rng.integers(0, 2, n)]
        anywhere = rng.choice(scenes, size=n, p=ctx.scene_weights)
        return as_int(np.where(near, neighbour, anywhere))

    user_scenes = np.stack((primary, another_scene(), another_scene()), axis=1)
    breadth = rng.choice(3, size=n, p=[0.35, 0.40, 0.25])
    second_weight = np.where(breadth >= 1, rng.uniform(0.2, 0.6, n), 0.0)
    third_weight = np.where(breadth == 2, rng.uniform(0.1, 0.3, n), 0.0)
    total_weight = 1.0 + second_weight + third_weight
    first_cut = 1.0 / total_weight
    second_cut = (1.0 + second_weight) / total_weight
    favourites = ctx.favourite_artists.sample(as_int(np.repeat(primary, 3)), rng).reshape(n, 3)
    streams_farms = rng.random(n) < 0.02

    row_user = as_int(np.repeat(np.arange(n), counts))
    rows = len(row_user)
    draw = rng.random(rows)
    slot = (draw >= first_cut[row_user]).astype(np.int64) + (draw >= second_cut[row_user])
    segment = as_int(user_scenes[row_user, slot])
    segment[rng.random(rows) < 0.05] = scenes  # exploration: any genuine artist
    artist = ctx.scene_artists.sample(segment, rng)
    favourite = np.flatnonzero(rng.random(rows) < 0.3)
    artist[favourite] = favourites[row_user[favourite], rng.integers(0, 3, len(favourite))]
    track = ctx.artist_tracks.sample(artist, rng)

    first_row = np.cumsum(counts) - counts
    replay = np.flatnonzero(rng.random(rows) < 0.35)
    owner = row_user[replay]
    source = first_row[owner] + np.floor(rng.random(len(replay)) * counts[owner]).astype(np.int64)
    track[replay] = track[source]
    if ctx.farms:
        farm_rows = np.flatnonzero(streams_farms[row_user] & (rng.random(rows) < 0.15))
        track[farm_rows] = ctx.farm_tracks.sample(as_int(np.full(len(farm_rows), ctx.farms)), rng)

    sessions = np.maximum(1, counts // 6)
    first_session = np.cumsum(sessions) - sessions
    session_count = int(sessions.sum())
    session_day = ctx.first_day + rng.integers(0, ctx.days, session_count)
    session_second = ctx.daytime_seconds(session_count, rng)
    session = first_session[row_user] + np.floor(rng.random(rows) * sessions[row_user]).astype(
        np.int64
    )
    day = ctx.not_before_release(as_int(session_day[session]), track, rng)
    second = np.minimum(session_second[session] + rng.integers(0, 7200, rows), SECONDS_PER_DAY - 1)

    plays = np.ones(rows, dtype=np.int64)
    repeated = np.flatnonzero(rng.random(rows) < 0.2)
    plays[repeated] = 1 + rng.geometric(0.5, len(repeated))
    duration = ctx.duration_ms[track]
    roll = rng.random(rows)
    fraction = np.ones(rows)
    partial = roll < 0.15
    fraction[partial] = rng.uniform(0.85, 1.0, int(partial.sum()))
    ms = np.round(duration * plays * fraction).astype(np.int64)
    skipped = np.flatnonzero((roll >= 0.85) & (plays == 1))
    skip_limit = np.maximum(5_001, (duration[skipped] * 0.6).astype(np.int64))
    ms[skipped] = rng.integers(5_000, skip_limit)
    return ListenRows(
        user=as_int(users[row_user]),
        track=track,
        at=as_int(day * SECONDS_PER_DAY + second),
        ms=as_int(ms),
        plays=plays,
    )


@dataclass(frozen=True, slots=True)
class ChunkOutput:
    """Everything a chunk of users contributes: listens, follows and exclusions."""

    rows: ListenRows
    follow_user: IntArray
    follow_artist: IntArray
    exclusion_user: IntArray
    exclusion_kind: IntArray
    exclusion_target: IntArray


def generate_chunk(
    start: int,
    stop: int,
    *,
    config: WorldConfig,
    ctx: ListeningContext,
    plan: BotPlan,
    artists: int,
    rng: np.random.Generator,
) -> ChunkOutput:
    """Listens, follows and exclusions of users [start, stop), bots included."""
    bot_users, bot_groups = plan.between(start, stop)
    everyone = as_int(np.arange(start, stop))
    genuine = as_int(everyone[np.isin(everyone, bot_users, invert=True)])
    human = genuine_rows(genuine, ctx, config, rng)
    # The cap's moves draw from their own stream (a function of the seed and the chunk), so
    # every other draw, the bots' included, is what it would be without the cap.
    spill_rng = np.random.default_rng((SPILL_STREAM, config.seed % 2**64, start))
    human = cap_daily_plays(human, ctx, spill_rng)
    bots = bot_rows(plan, bot_users, bot_groups, ctx, rng)
    rows = merge_same_day(ListenRows.concat([human, bots]))

    artist = ctx.track_artist[rows.track]
    pair = np.unique(rows.user * artists + artist, return_counts=True)
    pair_user, pair_artist = pair[0] // artists, pair[0] % artists
    is_bot = np.isin(pair_user, bot_users)
    pushed = np.zeros(len(pair_user), dtype=bool)
    if len(bot_users):
        target_of_group = as_int([g.target for g in plan.groups])
        bot_position = np.searchsorted(bot_users, pair_user[is_bot])
        pushed[is_bot] = target_of_group[bot_groups[bot_position]] == pair_artist[is_bot]
    chance = np.where(pair[1] >= 3, 0.3, 0.03)
    chance = np.where(is_bot, np.where(pushed, 1.0, 0.05), chance)
    follows = rng.random(len(pair_user)) < chance

    excluding = genuine[rng.random(len(genuine)) < config.exclusion_user_share]
    user_first = np.searchsorted(rows.user, excluding, side="left")
    user_last = np.searchsorted(rows.user, excluding, side="right")
    has_rows = user_last > user_first
    excluding, user_first, user_last = (
        excluding[has_rows],
        user_first[has_rows],
        user_last[has_rows],
    )
    per_user = 1 + (rng.random(len(excluding)) < 0.4)
    owner = np.repeat(np.arange(len(excluding)), per_user)
    picked = user_first[owner] + np.floor(
        rng.random(len(owner)) * (user_last - user_first)[owner]
    ).astype(np.int64)
    kind = as_int((rng.random(len(owner)) >= 0.6).astype(np.int64))
    target = np.where(kind == EXCLUDE_ARTIST, artist[picked], rows.track[picked])
    unique_exclusions = np.unique(
        np.stack((excluding[owner], kind, target), axis=1).reshape(-1, 3), axis=0
    )
    return ChunkOutput(
        rows=rows,
        follow_user=as_int(pair_user[follows]),
        follow_artist=as_int(pair_artist[follows]),
        exclusion_user=as_int(unique_exclusions[:, 0]),
        exclusion_kind=as_int(unique_exclusions[:, 1]),
        exclusion_target=as_int(unique_exclusions[:, 2]),
    )
