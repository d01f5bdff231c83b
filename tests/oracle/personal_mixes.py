"""The oracle's personal mixes ("Your Mixes"): one mix per coherent region of a listener's taste.

The listener's top artists are clustered on the similar-artist graph (Louvain communities);
each cluster anchors a mix of mostly familiar tracks (the listener's own favourites by those
artists, then their popular tracks) with discovery tracks from graph neighbours the listener has
not played, spread evenly through the mix. Listeners without personalisation (opted out, or
new) get the same shape built around the pool's most listened artists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, filterfalse

import numpy as np

from recsys.domain.mix import Mix, MixTrack, Reason, Slot
from recsys.generators.context import (
    GenerationContext,
    GeneratorSettings,
    UserProfile,
    anonymous,
)
from recsys.generators.neighbourhood import Neighbour, artist_affinity, neighbours_of
from recsys.generators.result import GenerationResult, make_mix
from recsys.generators.taste_clusters import cluster_artists
from tests.oracle.track_rules import TrackRules, interleave, spread_artists

NAME = "personal_mixes"


@dataclass(frozen=True)
class _Taste:
    """What every mix of one listener needs, worked out once per listener."""

    own_tracks: dict[str, list[str]]  # artist -> the listener's tracks by them, most played first
    played_artists: frozenset[str]
    recent: frozenset[str]
    popular: bool  # mixes around the pool's popular artists: their reasons say so


def _taste(
    ctx: GenerationContext, user: UserProfile, played: frozenset[str], popular: bool
) -> _Taste:
    own: dict[str, list[tuple[int, str]]] = {}
    tracks = ctx.catalog.tracks
    for track_id, plays in zip(user.history.track_ids, user.history.plays.tolist(), strict=True):
        track = tracks.get(track_id)
        if track is not None:
            for artist in track.artist_ids:
                own.setdefault(artist, []).append((-plays, track_id))
    return _Taste(
        own_tracks={a: [t for _, t in sorted(ts)] for a, ts in own.items()},
        played_artists=played,
        recent=user.recent_tracks(ctx.today, ctx.settings.recent_days),
        popular=popular,
    )


def title(index: int, anchors: list[str], ctx: GenerationContext) -> str:
    """A mix's title: its two strongest anchors by name."""
    return title_of(str(index), [ctx.catalog.name(a) for a in anchors[:2]])


def title_of(index: str, names: list[str]) -> str:
    """The title of mix number ``index`` with one or two anchors' ``names``."""
    if len(names) == 1:
        return f"Mix {index}: {names[0]} and more"
    return f"Mix {index}: {names[0]}, {names[1]} and more"


def style_first(ctx: GenerationContext, anchors: dict[str, float]) -> tuple[list[str], int]:
    """The anchors strongest first, reordered so that the ``mix_familiar_artists`` whose tags
    are closest to the other anchors' come first (in that order), then the rest closest
    first; and how many come first. Closeness: the sum of an anchor's tag cosines with the
    others, from the model's unit tag rows as ``sum_t w_t * (S_t - w_t)`` (S the anchors'
    sum, added up in anchor order and each anchor's tag order); equals keep their order."""
    ordered = sorted(anchors, key=lambda a: (-anchors[a], a))
    limit = ctx.settings.mix_familiar_artists
    if limit <= 0 or len(ordered) <= limit:
        return ordered, len(ordered)
    rows: list[list[tuple[int, float]]] = []
    model = ctx.model
    for artist in ordered:
        found = model.artists.index_of(artist) if model is not None else None
        row: list[tuple[int, float]] = []
        if model is not None and found is not None:
            at = model.artist_tags
            lo, hi = at.indptr[found], at.indptr[found + 1]
            row = [
                (t, float(np.float32(w)))
                for t, w in zip(at.indices[lo:hi].tolist(), at.data[lo:hi].tolist(), strict=True)
            ]
        rows.append(row)
    summed: dict[int, float] = {}
    for row in rows:
        for t, w in row:
            summed[t] = summed.get(t, 0.0) + w
    closeness = []
    for row in rows:
        total = 0.0
        for t, w in row:
            total += w * (summed[t] - w)
        closeness.append(total)
    closest = sorted(range(len(ordered)), key=lambda k: (-closeness[k], k))
    first = set(closest[:limit])
    front = [a for k, a in enumerate(ordered) if k in first]
    return front + [ordered[k] for k in closest[limit:]], limit


def _round_robin(
    ctx: GenerationContext, user: UserProfile, artists: list[str], taste: _Taste
) -> Iterator[tuple[str, str, Reason]]:
    """Round-robin over ``artists`` in order: their tracks the listener plays most, then
    their popular ones; as (track, anchor, reason)."""
    queues: list[tuple[str, Reason, Iterator[str]]] = []
    for artist in artists:
        mine = taste.own_tracks.get(artist, [])
        # ``filterfalse`` binds this anchor's own tracks now: a generator expression would
        # read the loop's last ``mine`` when it runs, and offer other anchors' tracks again.
        popular = filterfalse(set(mine).__contains__, ctx.catalog.artist_tracks.get(artist, ()))
        if not taste.popular:
            basis = "followed_artist" if artist in user.follows else "history"
            reason = Reason(basis, {"artist_id": artist})
        else:
            reason = Reason("seed", {"artist_id": artist, "basis": "popular in the pool"})
        queues.append((artist, reason, chain(mine, popular)))
    while queues:
        active = []
        for artist, reason, queue in queues:
            track_id = next(queue, None)
            if track_id is not None:
                active.append((artist, reason, queue))
                yield track_id, artist, reason
        queues = active


def _familiar_candidates(
    ctx: GenerationContext, user: UserProfile, anchors: dict[str, float], taste: _Taste
) -> Iterator[tuple[str, str, Reason]]:
    """Round-robin over the anchors ``style_first`` puts first, then each of the others
    alone, in its order."""
    ordered, n_first = style_first(ctx, anchors)
    return chain(
        _round_robin(ctx, user, ordered[:n_first], taste),
        *(_round_robin(ctx, user, [artist], taste) for artist in ordered[n_first:]),
    )


@dataclass(frozen=True)
class _Ranking:
    """How a listener's discovery slots are ranked by their own scores: the best dot product
    that scales them, and the least own score a candidate needs (``_discovery_threshold``)."""

    best: float
    threshold: float


def _candidates_of(
    ctx: GenerationContext, user: UserProfile, anchors: dict[str, float], taste: _Taste
) -> list[Neighbour]:
    """The graph neighbours of ``anchors`` a mix may draw discoveries from, best first."""
    excluded = taste.played_artists | user.exclusions.artists
    return list(neighbours_of(ctx.weights, anchors, exclude=excluded, blocked=ctx.blocked))


def _discovery_threshold(
    ctx: GenerationContext,
    user: UserProfile,
    planned: list[dict[str, float]],
    taste: _Taste,
) -> _Ranking:
    """The listener's discovery slots go to their best candidates across all their planned
    mixes: the best dot over every planned mix's candidates, and the own score of the N-th
    best candidate (each artist once), N being ``discovery_candidates_per_slot`` x ``target -
    familiar target`` per planned mix; no threshold (-inf) when there are no more than N."""
    settings = ctx.settings
    union: dict[str, None] = {}
    for anchors in planned:
        for neighbour in _candidates_of(ctx, user, anchors, taste):
            union.setdefault(neighbour.artist_id, None)
    artists = list(union)
    best = max((0.0, *listener_dots(ctx, user, artists).values()))
    best = best if best > 0.0 else 1.0
    familiar_target = round(settings.mix_target_tracks * settings.familiar_share)
    slots = len(planned) * (settings.mix_target_tracks - familiar_target)
    wanted = int(settings.discovery_candidates_per_slot * slots)
    if wanted <= 0 or len(artists) <= wanted:
        return _Ranking(best, -np.inf)
    own = sorted(listener_scores(ctx, user, artists, best).values())
    return _Ranking(best, own[len(artists) - wanted])


def _discovery_candidates(
    ctx: GenerationContext,
    user: UserProfile,
    anchors: dict[str, float],
    taste: _Taste,
    ranking: _Ranking | None,
) -> Iterator[tuple[str, str, Reason]]:
    """Tracks of graph neighbours the listener has not played, best neighbour first, at most
    ``max_discovery_tracks_per_artist`` fresh tracks each: not played recently, and crediting
    no artist the listener plays and no anchor (a featured appearance is not new). Ranked by
    the listener's own scores with ``ranking``, neighbours under its threshold passed over."""
    settings = ctx.settings
    known = taste.played_artists | anchors.keys()
    tracks = ctx.catalog.tracks
    neighbours = _candidates_of(ctx, user, anchors, taste)
    if ranking is not None:
        own = listener_scores(ctx, user, [n.artist_id for n in neighbours], ranking.best)
        best_graph = max((0.0, *(n.score for n in neighbours)))
        best_graph = best_graph if best_graph > 0.0 else 1.0
        weight = ctx.settings.discovery_graph_weight
        scores = {
            n.artist_id: own[n.artist_id] + weight * (n.score / best_graph) for n in neighbours
        }
        neighbours = [n for n in neighbours if own[n.artist_id] >= ranking.threshold]
        neighbours.sort(key=lambda n: (-scores[n.artist_id], n.artist_id))
    for neighbour in neighbours:
        fresh = [
            t
            for t in ctx.catalog.artist_tracks.get(neighbour.artist_id, ())
            if t not in taste.recent and known.isdisjoint(tracks[t].artist_ids)
        ][: settings.max_discovery_tracks_per_artist]
        if fresh:
            reason = ctx.edge_reason(neighbour.anchor, neighbour.artist_id)
            for track_id in fresh:
                yield track_id, neighbour.anchor, reason


def _profile(ctx: GenerationContext, user: UserProfile) -> dict[int, float]:
    """The listener's tag profile in the model: tag column -> weight."""
    model = ctx.model
    assert model is not None
    row = model.users.index_of(user.user_id)
    if row is None:
        return {}
    tags = model.user_tag_profiles
    lo, hi = tags.indptr[row], tags.indptr[row + 1]
    return dict(zip(tags.indices[lo:hi].tolist(), tags.data[lo:hi].tolist(), strict=True))


def listener_dots(
    ctx: GenerationContext, user: UserProfile, artists: list[str]
) -> dict[str, float]:
    """The listener's factors' dot product with each artist's, added up in float64 (0 for
    an artist the model does not know): eight running sums, the k-th over dimensions k,
    k + 8, ... of the first multiple of eight, added pairwise, then the remaining
    dimensions in order."""
    model = ctx.model
    assert model is not None and user.factors is not None
    mine = [float(np.float32(x)) for x in user.factors.tolist()]
    full = len(mine) - len(mine) % 8
    dots: dict[str, float] = {}
    for artist in artists:
        found = model.artists.index_of(artist)
        dot = 0.0
        if found is not None:
            its = [float(np.float32(x)) for x in model.artist_factors[found].tolist()]
            sums = [0.0] * 8
            for d in range(full):
                sums[d % 8] += mine[d] * its[d]
            dot = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + (
                (sums[4] + sums[5]) + (sums[6] + sums[7])
            )
            for d in range(full, len(mine)):
                dot += mine[d] * its[d]
        dots[artist] = dot
    return dots


def listener_scores(
    ctx: GenerationContext, user: UserProfile, artists: list[str], best: float | None = None
) -> dict[str, float]:
    """The listener's own score of each of ``artists``, as the engine's ranker blends it
    (``ArtistModel.score_users``): their factors' dot product with the artist's over ``best``
    (by default the best of ``artists``'), plus ``tag_blend`` x the cosine of their tag
    profile with the artist's tags (added up in the artist's tag order)."""
    model = ctx.model
    assert model is not None
    dots = listener_dots(ctx, user, artists)
    if best is None:
        best = max((0.0, *dots.values()))
        best = best if best > 0.0 else 1.0
    profile = _profile(ctx, user)
    blend = model.settings.tag_blend
    scores: dict[str, float] = {}
    for artist in artists:
        found = model.artists.index_of(artist)
        tag = 0.0
        if found is not None:
            at = model.artist_tags
            lo, hi = at.indptr[found], at.indptr[found + 1]
            for t, w in zip(at.indices[lo:hi].tolist(), at.data[lo:hi].tolist(), strict=True):
                if t in profile:
                    tag += float(np.float32(profile[t])) * float(np.float32(w))
        scores[artist] = dots[artist] / best + blend * tag
    return scores


def _take(
    ctx: GenerationContext,
    candidates: Iterator[tuple[str, str, Reason]],
    rules: TrackRules,
    slot: Slot,
    count: int,
) -> list[MixTrack]:
    """The first ``count`` candidates the mix's rules admit; ``candidates`` is left at the
    next one, so a later call goes on where this one stopped."""
    picked: list[MixTrack] = []
    tracks = ctx.catalog.tracks
    while len(picked) < count:
        candidate = next(candidates, None)
        if candidate is None:
            break
        track_id, via, reason = candidate
        track = tracks[track_id]
        if rules.admit(track_id, track.artist_ids, via, slot):
            picked.append(MixTrack(track_id, track.artist_ids, track.title, reason, slot))
    return picked


def _discovery_count(settings: GeneratorSettings, familiar: int) -> int:
    """Discovery slots of a mix holding ``familiar`` familiar tracks."""
    target = settings.mix_target_tracks
    planned = target - round(target * settings.familiar_share)
    topped_up = int(familiar / settings.min_familiar_share) - familiar
    return max(planned, min(target - familiar, topped_up))


def _most_tracks(ctx: GenerationContext, anchors: dict[str, float]) -> int:
    """The most tracks a mix around ``anchors`` could hold: every anchor's tracks up to the
    per-artist cap, and the most discoveries any familiar count up to those allows. A cheap
    bound, so that a region too small for a mix (a listener's lone artist of a scene) is not
    built only to be dropped."""
    settings = ctx.settings
    cap = settings.max_tracks_per_artist
    artist_tracks = ctx.catalog.artist_tracks
    familiar = sum(min(cap, len(artist_tracks.get(a, ()))) for a in anchors)
    planned = round(settings.mix_target_tracks * settings.familiar_share)
    discoveries = max(_discovery_count(settings, f) for f in range(min(familiar, planned) + 1))
    return min(settings.mix_target_tracks, familiar + discoveries)


def _build_mix(
    ctx: GenerationContext,
    user: UserProfile,
    index: int,
    anchors: dict[str, float],
    taste: _Taste,
    *,
    ranking: _Ranking | None,
) -> Mix:
    settings = ctx.settings
    familiar_target = round(settings.mix_target_tracks * settings.familiar_share)
    rules = TrackRules(
        exclusions=user.exclusions,
        blocked=ctx.blocked,
        isrc_of=ctx.catalog.isrc_of,
        recent=taste.recent,
        familiar_cap=settings.max_tracks_per_artist,
        discovery_cap=settings.max_discovery_tracks_per_artist,
    )
    candidates = _familiar_candidates(ctx, user, anchors, taste)
    familiar = _take(ctx, candidates, rules, "familiar", familiar_target)
    # A small region of taste is topped up with discoveries, as long as familiar tracks stay
    # at least min_familiar_share of the mix; otherwise the mix keeps its planned share.
    discovery_count = _discovery_count(settings, len(familiar))
    discovery = _take(
        ctx,
        _discovery_candidates(ctx, user, anchors, taste, ranking),
        rules,
        "discovery",
        discovery_count,
    )
    # Too few discoveries (a region whose neighbours the listener all knows): more familiar
    # tracks fill the mix up to its target length.
    shortfall = settings.mix_target_tracks - len(familiar) - len(discovery)
    if shortfall > 0:
        familiar += _take(ctx, candidates, rules, "familiar", shortfall)
    tracks = spread_artists(interleave(familiar, discovery), settings.mix_max_tracks)
    ordered, _ = style_first(ctx, anchors)
    return make_mix(
        ctx,
        "mix",
        f"{user.user_id}:{index}",
        title(index, ordered, ctx),
        tracks,
    )


def generate(ctx: GenerationContext, user: UserProfile) -> GenerationResult:
    """Up to ``max_mixes`` mixes of ``mix_min_tracks``-``mix_max_tracks`` tracks."""
    if not (user.personalised and user.history.track_ids):
        return generate_non_personalised(ctx, user)
    result = _generate(ctx, user)
    if result.mixes:
        return result
    notes = (*result.notes, "personal history too thin for a mix: mixes around popular artists")
    return GenerationResult(_generate(ctx, user, popular=True).mixes, notes)


def generate_non_personalised(ctx: GenerationContext, user: UserProfile) -> GenerationResult:
    """What a stranger gets: mixes around the pool's popular artists, under the listener's
    own exclusions."""
    return _generate(ctx, anonymous(user.user_id, user.exclusions))


def _generate(
    ctx: GenerationContext, user: UserProfile, *, popular: bool = False
) -> GenerationResult:
    """Mixes around the listener's top artists, or (not personalised, or ``popular``: a
    history too thin for a mix of its own) around the pool's popular ones; a personalised
    listener's history keeps what they play out of the discovery slots either way."""
    settings = ctx.settings
    played = (
        frozenset(artist_affinity(user.history, ctx.catalog)) if user.personalised else frozenset()
    )
    if user.personalised and not popular:
        affinity = artist_affinity(user.history, ctx.catalog)
    else:
        listened = ctx.catalog.popular_artists(settings.cold_start_artists)
        affinity = {a: float(ctx.catalog.artist_listeners.get(a, 0)) + 1.0 for a in listened}
    affinity = {a: w for a, w in affinity.items() if a not in user.exclusions.artists}
    top = dict(sorted(affinity.items(), key=lambda kv: (-kv[1], kv[0]))[: settings.top_artists])
    familiar = round(settings.mix_target_tracks * settings.familiar_share)
    min_size = -(-familiar // settings.max_tracks_per_artist)
    clusters = cluster_artists(ctx.scenes, top, min_size)
    taste = _taste(ctx, user, played, popular or not user.personalised)
    ranking = None
    if settings.discovery_ranking == "listener" and user.factors is not None and ctx.model:
        planned = [c for c in clusters if _most_tracks(ctx, c) >= settings.mix_min_tracks]
        planned = planned[: settings.max_mixes]
        if not planned and len(clusters) > 1:
            planned = [top]
        ranking = _discovery_threshold(ctx, user, planned, taste)
    mixes: list[Mix] = []
    notes: list[str] = []
    for cluster in clusters:
        if len(mixes) >= settings.max_mixes:
            break
        anchors = ", ".join(sorted(cluster)[:3])
        if (most := _most_tracks(ctx, cluster)) < settings.mix_min_tracks:
            notes.append(f"too few candidates around {anchors}: at most {most} tracks")
            continue
        mix = _build_mix(ctx, user, len(mixes) + 1, cluster, taste, ranking=ranking)
        if len(mix.tracks) >= settings.mix_min_tracks:
            mixes.append(mix)
        else:
            notes.append(f"too few candidates around {anchors}: {len(mix.tracks)} tracks")
    if not mixes and len(clusters) > 1:
        # A narrow or scattered taste: one mix around all of it beats none.
        mix = _build_mix(ctx, user, 1, top, taste, ranking=ranking)
        if len(mix.tracks) >= settings.mix_min_tracks:
            mixes.append(mix)
            notes.append("regions of taste too small apart: one mix around all top artists")
    if not mixes and not notes:
        notes.append("no artists to build a mix around")
    return GenerationResult(tuple(mixes), tuple(notes))
