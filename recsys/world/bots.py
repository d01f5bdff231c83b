"""Streaming-fraud bots: who they are, what they stream, and their near-identical histories.

Three kinds, each in groups of 3-12 accounts that replay one shared template with small
jitter (the tell-tale of a bot farm):

* farm streamers loop an AI spam farm's catalogue around the clock, ~31-35 s per play (just
  past the 30-second royalty threshold), many tracks and many plays a day;
* pushers loop one real, verified, mid-to-low popularity artist's tracks dozens to hundreds of
  times a day, again ~31 s per play;
* camouflaged pushers do the same but also play a handful of the most popular artists'
  tracks normally, to look like fans (a bandwagon attack).

A group's template is regenerated from the group's own seed whenever one of its members is
written, so no bot history is ever held for the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.world.arrays import IntArray, as_int
from recsys.world.codes import BOT_CAMOUFLAGED_PUSHER, BOT_FARM_STREAMER, BOT_PUSHER
from recsys.world.config import WorldSizes
from recsys.world.encoding import SECONDS_PER_DAY
from recsys.world.listening import ListeningContext, ListenRows
from recsys.world.moderation import Moderation
from recsys.world.synthetic_catalog import Catalog

MIN_GROUP = 3
MAX_GROUP = 12


@dataclass(frozen=True, slots=True)
class BotGroup:
    """Accounts run by one operator. `farm` (farm streamers) or `target` (pushers) is -1 when
    it does not apply; `target_tracks` are the pushed artist's tracks, most popular first."""

    kind: int
    members: IntArray
    farm: int
    target: int
    target_tracks: IntArray
    seed: int


@dataclass(frozen=True, slots=True)
class BotPlan:
    """All bot groups, plus a sorted index of bot users for chunked generation."""

    groups: tuple[BotGroup, ...]
    users: IntArray  # sorted bot user indices
    group_of: IntArray  # group index for each entry of `users`

    def between(self, start: int, stop: int) -> tuple[IntArray, IntArray]:
        """Bot users with index in [start, stop) and their groups."""
        lo, hi = np.searchsorted(self.users, [start, stop])
        return self.users[lo:hi], self.group_of[lo:hi]

    def users_of_kind(self, kind: int) -> IntArray:
        """Sorted user indices of every bot of `kind`."""
        members = [g.members for g in self.groups if g.kind == kind]
        return as_int(np.sort(np.concatenate(members))) if members else as_int(np.zeros(0))

    def targets(self) -> IntArray:
        """Sorted distinct pushed artists."""
        return as_int(np.unique([g.target for g in self.groups if g.target >= 0]))


def _split_into_groups(total: int, rng: np.random.Generator) -> list[int]:
    sizes: list[int] = []
    remaining = total
    while remaining > 0:
        size = min(remaining, int(rng.integers(MIN_GROUP, MAX_GROUP + 1)))
        if remaining - size < MIN_GROUP:
            size = remaining
        sizes.append(size)
        remaining -= size
    return sizes


def plan_bots(
    users: int,
    sizes: WorldSizes,
    catalog: Catalog,
    moderation: Moderation,
    rng: np.random.Generator,
) -> BotPlan:
    """Choose bot accounts (scattered among all user ids), group them, pick each group's
    farm or target artist."""
    total = sizes.bots
    if total == 0:
        nothing = as_int(np.zeros(0))
        return BotPlan(groups=(), users=nothing, group_of=nothing)
    # At least one group of MIN_GROUP per kind (sizes.bots is at least 9 when non-zero).
    pushers = max(MIN_GROUP, round(total * 0.3))
    camouflaged = max(MIN_GROUP, round(total * 0.3))
    farm_streamers = total - pushers - camouflaged
    if not catalog.farms:
        pushers += farm_streamers
        farm_streamers = 0
    accounts = as_int(rng.choice(users, size=total, replace=False))

    genuine = catalog.genuine_artists
    eligible_primary = catalog.track_artist[np.flatnonzero(moderation.eligible)]
    eligible_count = np.bincount(eligible_primary, minlength=catalog.artists)[:genuine]
    rank = catalog.artist_rank[:genuine]
    pushable = catalog.artist_verified[:genuine] & (eligible_count > 0)
    mid_low = pushable & (rank >= int(0.3 * genuine)) & (rank < int(0.9 * genuine))
    candidates = np.flatnonzero(mid_low) if mid_low.any() else np.flatnonzero(pushable)
    if len(candidates) == 0:
        raise ValueError("world too small: no verified artist with an eligible track to push")
    pusher_groups = _split_into_groups(pushers, rng)
    camouflaged_groups = _split_into_groups(camouflaged, rng)
    target_count = len(pusher_groups) + len(camouflaged_groups)
    targets = rng.choice(
        candidates, size=target_count, replace=target_count > len(candidates)
    ).tolist()

    groups: list[BotGroup] = []
    position = 0
    kinds = (
        [(BOT_FARM_STREAMER, size) for size in _split_into_groups(farm_streamers, rng)]
        + [(BOT_PUSHER, size) for size in pusher_groups]
        + [(BOT_CAMOUFLAGED_PUSHER, size) for size in camouflaged_groups]
    )
    nothing = as_int(np.zeros(0))
    for kind, size in kinds:
        members = as_int(np.sort(accounts[position : position + size]))
        position += size
        seed = int(rng.integers(0, 2**63 - 1))
        if kind == BOT_FARM_STREAMER:
            farm = int(rng.integers(0, catalog.farms))
            groups.append(BotGroup(kind, members, farm, -1, nothing, seed))
            continue
        target = int(targets.pop())
        own = np.flatnonzero(
            moderation.eligible[: catalog.genuine_tracks]
            & (catalog.track_artist[: catalog.genuine_tracks] == target)
        )
        by_popularity = own[np.argsort(-catalog.track_weight[own], kind="stable")]
        groups.append(BotGroup(kind, members, -1, target, as_int(by_popularity[:3]), seed))

    group_index = np.repeat(np.arange(len(groups)), [len(g.members) for g in groups])
    member_order = np.concatenate([g.members for g in groups])
    order = np.argsort(member_order, kind="stable")
    return BotPlan(
        groups=tuple(groups),
        users=as_int(member_order[order]),
        group_of=as_int(group_index[order]),
    )


@dataclass(frozen=True, slots=True)
class _Template:
    track: IntArray
    day: IntArray
    second: IntArray
    plays: IntArray
    per_play_ms: IntArray


def _window_days(ctx: ListeningContext, count: int, rng: np.random.Generator) -> IntArray:
    count = min(count, ctx.days)
    return as_int(ctx.first_day + np.sort(rng.choice(ctx.days, size=count, replace=False)))


def _template(group: BotGroup, ctx: ListeningContext) -> _Template:
    """The group's shared history, a pure function of the group's seed."""
    rng = np.random.default_rng(group.seed)
    if group.kind == BOT_FARM_STREAMER:
        days = _window_days(ctx, int(rng.integers(10, 41)), rng)
        per_day = rng.integers(15, 41, len(days))
        day = as_int(np.repeat(days, per_day))
        rows = len(day)
        track = ctx.farm_tracks.sample(as_int(np.full(rows, group.farm)), rng)
        day = ctx.not_before_release(day, track, rng)
        per_play = np.minimum(rng.integers(31_000, 35_001, rows), ctx.duration_ms[track])
        return _Template(
            track=track,
            day=day,
            second=as_int(rng.integers(0, SECONDS_PER_DAY, rows)),
            plays=as_int(rng.integers(3, 26, rows)),
            per_play_ms=as_int(per_play),
        )
    pushed = group.target_tracks[: int(rng.integers(1, len(group.target_tracks) + 1))]
    days = _window_days(ctx, int(rng.integers(20, 91)), rng)
    day = as_int(np.repeat(days, len(pushed)))
    track = as_int(np.tile(pushed, len(days)))
    day = ctx.not_before_release(day, track, rng)
    rows = len(day)
    parts = [
        _Template(
            track=track,
            day=day,
            second=as_int(rng.integers(0, SECONDS_PER_DAY, rows)),
            plays=as_int(rng.integers(40, 201, rows)),
            per_play_ms=as_int(
                np.minimum(rng.integers(30_500, 32_500, rows), ctx.duration_ms[track])
            ),
        )
    ]
    if group.kind == BOT_CAMOUFLAGED_PUSHER:
        count = int(rng.integers(5, 21))
        artists = ctx.popular_artists[rng.integers(0, len(ctx.popular_artists), count)]
        cover_track = ctx.artist_tracks.sample(as_int(artists), rng)
        cover_day = ctx.not_before_release(
            as_int(ctx.first_day + rng.integers(0, ctx.days, count)), cover_track, rng
        )
        parts.append(
            _Template(
                track=cover_track,
                day=cover_day,
                second=ctx.daytime_seconds(count, rng),
                plays=as_int(1 + (rng.random(count) < 0.2)),
                per_play_ms=ctx.duration_ms[cover_track],
            )
        )
    return _Template(
        track=as_int(np.concatenate([p.track for p in parts])),
        day=as_int(np.concatenate([p.day for p in parts])),
        second=as_int(np.concatenate([p.second for p in parts])),
        plays=as_int(np.concatenate([p.plays for p in parts])),
        per_play_ms=as_int(np.concatenate([p.per_play_ms for p in parts])),
    )


def bot_rows(
    plan: BotPlan,
    users: IntArray,
    groups: IntArray,
    ctx: ListeningContext,
    rng: np.random.Generator,
) -> ListenRows:
    """Each bot replays its group's template: ~5 % of rows dropped, times moved by up to
    15 minutes, play counts nudged by one."""
    templates: dict[int, _Template] = {}
    parts: list[ListenRows] = []
    for user, group_index in zip(users.tolist(), groups.tolist(), strict=True):
        template = templates.get(group_index)
        if template is None:
            template = _template(plan.groups[group_index], ctx)
            templates[group_index] = template
        keep = rng.random(len(template.track)) >= 0.05
        count = int(keep.sum())
        second = np.clip(
            template.second[keep] + rng.integers(-900, 901, count), 0, SECONDS_PER_DAY - 1
        )
        plays = np.maximum(1, template.plays[keep] + rng.integers(-1, 2, count))
        parts.append(
            ListenRows(
                user=as_int(np.full(count, user)),
                track=template.track[keep],
                at=as_int(template.day[keep] * SECONDS_PER_DAY + second),
                ms=as_int(plays * template.per_play_ms[keep]),
                plays=as_int(plays),
            )
        )
    return ListenRows.concat(parts)
