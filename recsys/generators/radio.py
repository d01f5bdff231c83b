"""Artist and track radios: a walk over the similar-artist graph from a seed, on request.

The seed's neighbourhood (one and two edges away) is weighted by edge strength, so the radio
stays close to the seed's style; random draws over those weights give variety. Each station
draws from a random stream of its own (seeded by the radio and the station), and each step
picks the station whose draw comes first in an exponential race weighted by the stations'
weights: the same odds as one draw over all of them, but an edit that adds or removes one
station changes only the steps that station wins, instead of reshuffling the whole radio (a
curator's preview of a link edit shows what the edit does, and listeners' radios stay put).
With a user,
artists they play are boosted and tracks they usually skip are played less. An artist a
curator blocked with the seed never plays on its radio. The drawn tracks are then held to
the mixes' repetition rules, stated once in the compiled generators (an ``Admission``:
``Engine.admit_in_order``).
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from recsys.domain.mix import Mix, MixTrack, Reason
from recsys.generators.context import GenerationContext, UserProfile
from recsys.generators.neighbourhood import artist_affinity, edge_reason
from recsys.generators.result import GenerationResult, make_mix

# (listener or None, drawn tracks, seed artist, per-artist cap, length) -> the tracks kept, in
# play order: the repetition rules (``BatchGenerator.admit_in_order``).
Admission = Callable[[UserProfile | None, Sequence[MixTrack], str, int, int], list[MixTrack]]

NAME = "radio"
SECOND_HOP_DAMPING = 0.5
SEED_WEIGHT = 2.0  # the seed artist plays this many times as often as its closest neighbour
NEIGHBOURHOOD = 40
TOP_TRACKS_PER_ARTIST = 8
PLANS_KEPT = 20_000  # seeds whose station plans stay in memory (a few KiB each)


@dataclass(frozen=True, slots=True)
class Station:
    artist_id: str
    weight: float
    reason: Reason


class _PlanCache:
    """The most recently used seeds' station plans. A plan depends only on the graph and the
    blocks, the same for every listener, and walking two hops of the graph is the largest
    part of a radio made on request."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._plans: OrderedDict[str, tuple[Station, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ctx: GenerationContext, seed_artist: str) -> tuple[Station, ...]:
        with self._lock:
            plan = self._plans.get(seed_artist)
            if plan is not None:
                self._plans.move_to_end(seed_artist)
                return plan
        plan = tuple(stations(ctx, seed_artist))
        with self._lock:
            self._plans[seed_artist] = plan
            if len(self._plans) > self._limit:
                self._plans.popitem(last=False)
        return plan


def _plan(ctx: GenerationContext, seed_artist: str) -> list[Station]:
    cache = ctx.shared((NAME, "plans"), lambda: _PlanCache(PLANS_KEPT))
    return list(cache.get(ctx, seed_artist))


def stations(ctx: GenerationContext, seed_artist: str) -> list[Station]:
    """The seed, its neighbours and theirs, strongest first, blocks with the seed removed."""
    edges = ctx.weights
    weights: dict[str, tuple[float, str]] = {seed_artist: (1.0, seed_artist)}
    for first, score in edges.get(seed_artist, {}).items():
        weights[first] = max(weights.get(first, (0.0, "")), (score, seed_artist))
    for first, (first_weight, _) in list(weights.items()):
        if first == seed_artist:
            continue
        for second, score in edges.get(first, {}).items():
            weight = first_weight * score * SECOND_HOP_DAMPING
            if second not in weights or weights[second][0] < weight:
                weights[second] = (weight, first)
    strongest = max((w for a, (w, _) in weights.items() if a != seed_artist), default=0.5)
    result = [
        Station(seed_artist, SEED_WEIGHT * strongest, Reason("seed", {"artist_id": seed_artist}))
    ]
    ranked = sorted(
        (item for item in weights.items() if item[0] != seed_artist),
        key=lambda item: (-item[1][0], item[0]),
    )
    for artist, (weight, parent) in ranked:
        if artist in ctx.blocked.get(seed_artist, ()):
            continue
        result.append(Station(artist, weight, edge_reason(ctx.graph, parent, artist)))
        if len(result) > NEIGHBOURHOOD:
            break
    return result


def _weights(
    ctx: GenerationContext, user: UserProfile | None, plan: list[Station]
) -> tuple[list[float], dict[str, float]]:
    weights = [s.weight for s in plan]
    heard: dict[str, float] = {}
    if user is not None and user.personalised:
        affinity = artist_affinity(user.history, ctx.catalog)
        boost = ctx.settings.radio_familiar_boost
        weights = [
            w * boost if s.artist_id in affinity else w for w, s in zip(weights, plan, strict=True)
        ]
        heard = dict(zip(user.history.track_ids, user.history.heard.tolist(), strict=True))
    return weights, heard


def _draw(weights: list[float], uniform: float) -> int:
    """The index that ``uniform`` (in [0, 1)) falls on when each index takes a share of
    [0, 1) in proportion to its (non-negative) weight; the caller makes sure some weight is
    positive. A zero weight is never drawn."""
    cumulative = list(accumulate(weights))
    index = bisect_right(cumulative, uniform * cumulative[-1])
    if index < len(weights):
        return index
    return max(i for i, w in enumerate(weights) if w > 0)  # rounding at the very top


def _station_streams(
    ctx: GenerationContext, key: tuple[str, ...], plan: list[Station], steps: int
) -> npt.NDArray[np.float64]:
    """Per station (rows, in plan order), its own uniforms: one per step of the walk for the
    race, then one per track it plays, for choosing among its top tracks."""
    streams = np.empty((len(plan), steps + TOP_TRACKS_PER_ARTIST))
    for row, station in enumerate(plan):
        streams[row] = ctx.rng_for(*key, station.artist_id).random(streams.shape[1])
    return streams


def _race(weights: npt.NDArray[np.float64], uniforms: npt.NDArray[np.float64]) -> int:
    """The station an exponential race picks: the smallest ``-ln(1 - u) / weight`` wins,
    which picks each station with probability weight / sum of weights; weight 0 never wins."""
    arrival = np.full(len(weights), np.inf)
    np.divide(-np.log1p(-uniforms), weights, out=arrival, where=weights > 0)
    return int(np.argmin(arrival))


def _walk(
    ctx: GenerationContext,
    plan: list[Station],
    user: UserProfile | None,
    first: MixTrack | None,
    key: tuple[str, ...],
) -> list[MixTrack]:
    """A weighted random walk over the stations: each step draws a station by its weight
    (artists the listener plays boosted), then one of its top tracks, better known and less
    skipped ones more likely; no artist back-to-back, at most the configured tracks each."""
    settings = ctx.settings
    cap = settings.radio_max_tracks_per_artist
    weights, heard = _weights(ctx, user, plan)
    queues = {
        s.artist_id: list(ctx.catalog.artist_tracks.get(s.artist_id, ())[:TOP_TRACKS_PER_ARTIST])
        for s in plan
    }
    used = {s.artist_id: 0 for s in plan}
    tracks: list[MixTrack] = [first] if first is not None else []
    if first is not None:
        for artist in first.artist_ids:
            if artist in used:
                used[artist] += 1
            if first.track_id in queues.get(artist, ()):
                queues[artist].remove(first.track_id)
    index_of = {s.artist_id: i for i, s in enumerate(plan)}
    # Each station's weight while it can still play (tracks left, under the cap), else 0.
    available = np.array(
        [
            w if queues[s.artist_id] and used[s.artist_id] < cap else 0.0
            for w, s in zip(weights, plan, strict=True)
        ],
        dtype=np.float64,
    )
    steps = settings.radio_tracks * 6
    streams = _station_streams(ctx, key, plan, steps)
    played = [0] * len(plan)  # tracks each station played: where its own choices resume
    exclusions = user.exclusions if user is not None else None
    attempts = 0
    while len(tracks) < settings.radio_tracks and attempts < steps:
        open_ = available.copy()
        for artist in tracks[-1].artist_ids if tracks else ():
            if artist in index_of:
                open_[index_of[artist]] = 0.0  # no artist back-to-back
        if not open_.any():
            break
        index = _race(open_, streams[:, attempts])
        attempts += 1
        station = plan[index]
        queue = queues[station.artist_id]
        choice_weights = [
            (settings.radio_skip_penalty if heard.get(t, 1.0) < 0.5 else 1.0) / (1 + i)
            for i, t in enumerate(queue)
        ]
        track_id = queue.pop(_draw(choice_weights, streams[index, steps + played[index]]))
        played[index] += 1
        if not queue:
            available[index] = 0.0
        track = ctx.catalog.tracks[track_id]
        if exclusions is not None and not exclusions.allows(track_id, track.artist_ids):
            continue
        if any(used.get(a, 0) >= cap for a in track.artist_ids):
            continue
        tracks.append(MixTrack(track_id, track.artist_ids, track.title, station.reason))
        for artist in track.artist_ids:
            if artist in used:
                used[artist] += 1
                if used[artist] >= cap:
                    available[index_of[artist]] = 0.0
    return tracks


def _finish(
    ctx: GenerationContext,
    admit: Admission,
    user: UserProfile | None,
    tracks: list[MixTrack],
    seed_artist: str,
) -> list[MixTrack]:
    cap = ctx.settings.radio_max_tracks_per_artist
    return admit(user, tracks, seed_artist, cap, ctx.settings.radio_tracks)


def artist_radio(
    ctx: GenerationContext, seed_artist: str, user: UserProfile | None, admit: Admission
) -> GenerationResult:
    """A radio around ``seed_artist`` (a pool artist: callers check it is in the graph)."""
    key = ("artist_radio", seed_artist, user.user_id if user else "")
    plan = _plan(ctx, seed_artist)
    opener = _opener(ctx, seed_artist, user)
    tracks = _finish(ctx, admit, user, _walk(ctx, plan, user, opener, key), seed_artist)
    title = f"{ctx.catalog.name(seed_artist)} Radio"
    key = f"{seed_artist}:{user.user_id if user else ''}"
    return _result(make_mix(ctx, "artist_radio", key, title, tracks))


def _opener(ctx: GenerationContext, seed_artist: str, user: UserProfile | None) -> MixTrack | None:
    """The seed artist's most listened track the user has not excluded: a radio opens with
    the artist it is named after."""
    for track_id in ctx.catalog.artist_tracks.get(seed_artist, ()):
        track = ctx.catalog.tracks[track_id]
        if user is None or user.exclusions.allows(track_id, track.artist_ids):
            return MixTrack(
                track_id, track.artist_ids, track.title, Reason("seed", {"artist_id": seed_artist})
            )
    return None


def track_radio(
    ctx: GenerationContext, seed_track: str, user: UserProfile | None, admit: Admission
) -> GenerationResult:
    """A radio that opens with ``seed_track`` (a pool track) and follows its primary artist."""
    track = ctx.catalog.tracks[seed_track]
    key = ("track_radio", seed_track, user.user_id if user else "")
    first = MixTrack(
        seed_track, track.artist_ids, track.title, Reason("seed", {"track_id": seed_track})
    )
    walked = _walk(ctx, _plan(ctx, track.primary_artist_id), user, first, key)
    title = f"{track.title} Radio"
    key = f"{seed_track}:{user.user_id if user else ''}"
    tracks = _finish(ctx, admit, user, walked, track.primary_artist_id)
    return _result(make_mix(ctx, "track_radio", key, title, tracks))


def _result(mix: Mix) -> GenerationResult:
    notes = () if mix.tracks else ("no playable track around this seed",)
    return GenerationResult((mix,), notes)
