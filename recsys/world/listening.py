"""Shared pieces of listening generation: the rows, the context they are drawn from, and the
per-day aggregation every listens file obeys.

A row is one play, or the aggregate of one user's plays of one track on one day (plays > 1,
ms_played summed). Rows are produced in user chunks as numpy arrays and never as Python
objects, so memory stays bounded by the chunk whatever the world's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.world.arrays import BoolArray, FloatArray, IntArray, SegmentedSampler, as_int
from recsys.world.config import WorldConfig
from recsys.world.encoding import SECONDS_PER_DAY
from recsys.world.moderation import EPOCH_ORDINAL
from recsys.world.synthetic_catalog import Catalog

# Relative listening activity per UTC hour: quiet nights, a morning commute, an evening peak.
HOUR_WEIGHTS: tuple[float, ...] = (
    1.5, 1.0, 0.6, 0.4, 0.3, 0.4, 1.0, 2.2, 3.0, 2.6, 2.4, 2.5,
    2.8, 2.7, 2.6, 2.8, 3.2, 3.6, 3.8, 4.0, 4.0, 3.6, 3.0, 2.2,
)  # fmt: skip

# People rarely play one track more than ~10-15 times a day; the engine's fraud screen reads
# more than 30 as a loop. Genuine listeners stay at or under this; bots are left to loop.
GENUINE_DAILY_PLAY_CAP = 12
# How often an over-the-cap row may move to another day before it is dropped.
SPILL_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class ListenRows:
    """Listen rows as parallel arrays; `at` is epoch seconds (UTC)."""

    user: IntArray
    track: IntArray
    at: IntArray
    ms: IntArray
    plays: IntArray

    def __len__(self) -> int:
        return len(self.user)

    @classmethod
    def empty(cls) -> ListenRows:
        """No rows."""
        nothing = as_int(np.zeros(0))
        return cls(user=nothing, track=nothing, at=nothing, ms=nothing, plays=nothing)

    @classmethod
    def concat(cls, parts: list[ListenRows]) -> ListenRows:
        """All rows of `parts`, in order."""
        if not parts:
            return cls.empty()
        return cls(
            user=as_int(np.concatenate([p.user for p in parts])),
            track=as_int(np.concatenate([p.track for p in parts])),
            at=as_int(np.concatenate([p.at for p in parts])),
            ms=as_int(np.concatenate([p.ms for p in parts])),
            plays=as_int(np.concatenate([p.plays for p in parts])),
        )


def merge_same_day(rows: ListenRows) -> ListenRows:
    """One row per user, track and day, sorted by user then time (then track): same-day rows
    are summed into an aggregated row stamped with the day's first play."""
    if len(rows) == 0:
        return rows
    first_user, first_second = int(rows.user.min()), int(rows.at.min())
    users = int(rows.user.max()) - first_user + 1
    tracks = int(rows.track.max()) + 1
    seconds = int(rows.at.max()) - first_second + 1
    user = rows.user - first_user
    second = rows.at - first_second
    if users * tracks * seconds < 2**62:
        # One int64 key orders by (user, track, time); much faster than a multi-key lexsort.
        order = np.argsort((user * tracks + rows.track) * seconds + second)
    else:
        order = np.lexsort((second, rows.track, user))
    user_sorted, track_sorted = rows.user[order], rows.track[order]
    at_sorted = rows.at[order]
    day_sorted = at_sorted // SECONDS_PER_DAY
    starts_mask = np.ones(len(order), dtype=bool)
    starts_mask[1:] = (
        (user_sorted[1:] != user_sorted[:-1])
        | (track_sorted[1:] != track_sorted[:-1])
        | (day_sorted[1:] != day_sorted[:-1])
    )
    starts = np.flatnonzero(starts_mask)
    merged_user = user_sorted[starts]
    merged_at = at_sorted[starts]
    # Stable sort keeps the track order for rows of one user at the same second.
    final = np.argsort(
        (merged_user - first_user) * seconds + (merged_at - first_second), kind="stable"
    )
    return ListenRows(
        user=as_int(merged_user[final]),
        track=as_int(track_sorted[starts][final]),
        at=as_int(merged_at[final]),
        ms=as_int(np.add.reduceat(rows.ms[order], starts)[final]),
        plays=as_int(np.add.reduceat(rows.plays[order], starts)[final]),
    )


def cap_daily_plays(
    rows: ListenRows,
    ctx: ListeningContext,
    rng: np.random.Generator,
    cap: int = GENUINE_DAILY_PLAY_CAP,
) -> ListenRows:
    """Keep each user's plays of one track on one day at or under `cap`, as a person's are.

    Takes rows before same-day aggregation. A row over the cap by itself is trimmed to `cap`
    plays (its `ms_played` scaled alike). Rows that would take a user's day total for a track
    past `cap` move, whole, to a uniformly random day since the track's release; rows still
    over after `SPILL_ROUNDS` moves are dropped (a track released yesterday has only one day
    to spill to). Rows keep their time of day and their order.
    """
    count = len(rows)
    if count == 0:
        return rows
    plays, ms = rows.plays, rows.ms
    if int(plays.max()) > cap:
        ms = as_int(np.where(plays > cap, ms * cap // plays, ms))
        plays = as_int(np.minimum(plays, cap))
    # Only rows of a (user, track) pair with more than `cap` plays in all can ever be over on a
    # day. Find a small superset of them by hashing pairs into buckets (collisions only add
    # rows; int64 products may wrap, harmlessly), then work on those rows alone.
    pair = (rows.user * 0x9E3779B1 + rows.track) * 0x85EBCA77
    heavy = np.flatnonzero(_over_in_bucket(pair, plays, cap))
    at, keep = rows.at, np.ones(count, dtype=bool)
    if len(heavy):
        user, track, heavy_plays = rows.user[heavy], rows.track[heavy], plays[heavy]
        heavy_at, heavy_pair = at[heavy], pair[heavy]
        heavy_day = heavy_at // SECONDS_PER_DAY
        moves = np.zeros(len(heavy), dtype=np.int64)
        for spill in range(SPILL_ROUNDS + 1):
            candidate = np.flatnonzero(
                _over_in_bucket(heavy_pair + heavy_day * 0xC2B2AE3D, heavy_plays, cap)
            )
            # Exact groups; within one, rows already in place (then earlier rows) keep the day.
            order = candidate[
                np.lexsort(
                    (
                        candidate,
                        moves[candidate],
                        heavy_day[candidate],
                        track[candidate],
                        user[candidate],
                    )
                )
            ]
            group_user, group_track, group_day = user[order], track[order], heavy_day[order]
            starts = np.ones(len(order), dtype=bool)
            starts[1:] = (
                (group_user[1:] != group_user[:-1])
                | (group_track[1:] != group_track[:-1])
                | (group_day[1:] != group_day[:-1])
            )
            running = np.cumsum(heavy_plays[order])
            before_group = (running - heavy_plays[order])[starts][np.cumsum(starts) - 1]
            over = order[running - before_group > cap]
            if len(over) == 0:
                break
            if spill == SPILL_ROUNDS:
                keep[heavy[over]] = False
                break
            heavy_day[over] = ctx.day_since_release(track[over], rng)
            moves[over] += 1
        at = at.copy()
        at[heavy] = heavy_day * SECONDS_PER_DAY + heavy_at % SECONDS_PER_DAY
    if keep.all():
        return ListenRows(user=rows.user, track=rows.track, at=at, ms=ms, plays=plays)
    return ListenRows(
        user=rows.user[keep],
        track=rows.track[keep],
        at=at[keep],
        ms=ms[keep],
        plays=plays[keep],
    )


def _over_in_bucket(key: IntArray, plays: IntArray, cap: int) -> BoolArray:
    """Whether each row's hashed `key` bucket holds more than `cap` plays: a superset of the
    rows whose exact key does."""
    if len(key) == 0:
        return np.zeros(0, dtype=bool)
    mask = (1 << max(10, len(key).bit_length())) - 1  # 1-2 buckets a row: fast, few collisions
    bucket = (key ^ (key >> 31)) & mask
    return np.asarray((np.bincount(bucket, weights=plays, minlength=mask + 1) > cap)[bucket])


@dataclass(frozen=True, slots=True)
class ListeningContext:
    """What listeners draw from: the window, track facts and the popularity samplers.

    `scene_artists` has one segment per scene plus a last one holding every genuine artist
    (exploration); `farm_tracks` has one segment per farm plus a last one with all farm tracks.
    """

    first_day: int  # epoch day of the window's first day
    today: int  # epoch day of today (the window ends the day before)
    scenes: int
    farms: int
    release_day: IntArray
    duration_ms: IntArray
    track_artist: IntArray
    scene_weights: FloatArray
    scene_neighbours: IntArray
    scene_artists: SegmentedSampler
    favourite_artists: SegmentedSampler
    artist_tracks: SegmentedSampler
    farm_tracks: SegmentedSampler
    popular_artists: IntArray
    hour_cumulative: FloatArray

    @property
    def days(self) -> int:
        """Number of days in the listening window."""
        return self.today - self.first_day

    def released(self, track: IntArray) -> IntArray:
        """First window day on which each track can be played: its release or the window's
        first day, whichever is later (releases all precede today, so the range is never
        empty)."""
        return as_int(np.maximum(self.release_day[track], self.first_day))

    def day_since_release(self, track: IntArray, rng: np.random.Generator) -> IntArray:
        """A uniformly random window day from each track's release to the window's last day."""
        start = self.released(track)
        return as_int(start + np.floor(rng.random(len(start)) * (self.today - start)))

    def not_before_release(
        self, day: IntArray, track: IntArray, rng: np.random.Generator
    ) -> IntArray:
        """Move plays dated before their track's release to a uniformly random day between the
        release and the window's last day, so they do not all pile onto the release day."""
        early = day < self.released(track)
        if not early.any():
            return day
        moved = day.copy()
        moved[early] = self.day_since_release(track[early], rng)
        return moved

    def daytime_seconds(self, count: int, rng: np.random.Generator) -> IntArray:
        """Seconds of the day following the listening-hour profile."""
        hour = np.searchsorted(self.hour_cumulative, rng.random(count), side="right")
        return as_int(np.minimum(hour, 23) * 3600 + rng.integers(0, 3600, count))


def build_context(config: WorldConfig, catalog: Catalog) -> ListeningContext:
    """Index the catalogue for fast popularity-weighted draws."""
    genuine = catalog.genuine_artists
    scenes = len(catalog.scenes)
    artists = as_int(np.arange(genuine))
    weight = catalog.artist_weight[:genuine]
    scene = catalog.artist_scene[:genuine]
    scene_artists = SegmentedSampler.build(
        as_int(np.concatenate((scene, np.full(genuine, scenes)))),
        np.concatenate((weight, weight)),
        scenes + 1,
        item_ids=as_int(np.concatenate((artists, artists))),
    )
    favourite_artists = SegmentedSampler.build(scene, np.power(weight, 0.3), scenes)
    genuine_tracks = catalog.genuine_tracks
    artist_tracks = SegmentedSampler.build(
        catalog.track_artist[:genuine_tracks], catalog.track_weight[:genuine_tracks], genuine
    )
    farms = catalog.farms
    farm_track_ids = as_int(np.arange(genuine_tracks, catalog.tracks))
    farm_of = catalog.track_farm[genuine_tracks:]
    farm_tracks = SegmentedSampler.build(
        as_int(np.concatenate((farm_of, np.full(len(farm_of), farms)))),
        np.ones(2 * len(farm_of)),
        farms + 1,
        item_ids=as_int(np.concatenate((farm_track_ids, farm_track_ids))),
    )
    scene_totals = np.bincount(scene, weights=weight, minlength=scenes)
    scene_weights = np.power(scene_totals, 0.7)
    today = catalog.today_ordinal - EPOCH_ORDINAL
    hours = np.cumsum(HOUR_WEIGHTS)
    return ListeningContext(
        first_day=today - config.listen_days,
        today=today,
        scenes=scenes,
        farms=farms,
        release_day=as_int(catalog.track_day - EPOCH_ORDINAL),
        duration_ms=catalog.track_duration_ms,
        track_artist=catalog.track_artist,
        scene_weights=np.asarray(scene_weights / scene_weights.sum(), dtype=np.float64),
        scene_neighbours=as_int([scene.neighbours for scene in catalog.scenes]),
        scene_artists=scene_artists,
        favourite_artists=favourite_artists,
        artist_tracks=artist_tracks,
        farm_tracks=farm_tracks,
        popular_artists=as_int(np.argsort(catalog.artist_rank[:genuine])[: min(10, genuine)]),
        hour_cumulative=np.asarray(hours / hours[-1], dtype=np.float64),
    )
