"""Personal mixes ("Your Mixes"): one mix per coherent region of a listener's taste.

The listener's top artists are clustered on the similar-artist graph (Louvain communities);
each cluster anchors a mix of mostly familiar tracks (the listener's own favourites by those
artists, then their popular tracks) with discovery tracks from graph neighbours the listener has
not played, spread evenly through the mix. Listeners without personalisation (opted out, or
new) get the same shape built around the pool's most listened artists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import networkx as nx

from recsys.generators.context import GenerationContext, UserProfile
from recsys.generators.neighbourhood import artist_affinity, edge_reason, neighbours_of
from recsys.generators.result import GenerationResult, make_mix
from recsys.generators.steps import (
    apply_steps,
    cap_per_artist,
    drop_blocked,
    drop_duplicates,
    drop_excluded,
    drop_recently_played,
    interleave,
    spread_artists,
)
from recsys.mix import Mix, MixTrack, Reason

NAME = "personal_mixes"


def cluster_artists(
    graph: nx.Graph, affinity: Mapping[str, float], seed: int, min_size: int
) -> list[dict[str, float]]:
    """Communities of the listener's artists on the graph, strongest affinity first.

    Louvain can split one scene into pieces too small to fill a mix; a piece smaller than
    ``min_size`` artists joins the community it is most strongly linked to, if any, so each mix
    stays coherent and as many as possible can be filled.
    """
    members = {a for a in affinity if a in graph}
    # A plain copy of the induced subgraph: networkx's subgraph views are slow to walk.
    sub = nx.Graph()
    sub.add_nodes_from(sorted(members))
    adjacency = graph.adj
    for a in sub.nodes:
        for b, data in adjacency[a].items():
            if b in members and a < b:
                sub.add_edge(a, b, score=data["score"])
    communities = [set(c) for c in nx.community.louvain_communities(sub, weight="score", seed=seed)]
    communities.sort(key=lambda c: (len(c), min(c)))
    merged = True
    while merged:
        merged = False
        for small in [c for c in communities if len(c) < min_size]:
            links = [
                (
                    sum(float(sub[a][b]["score"]) for a in small for b in sub[a] if b in other),
                    min(other),
                    index,
                )
                for index, other in enumerate(communities)
                if other is not small
            ]
            best = max(links, default=(0.0, "", -1))
            if best[0] > 0:
                communities[best[2]] |= small
                communities.remove(small)
                merged = True
                break
    clusters = [{a: affinity[a] for a in sorted(c)} for c in communities]
    clusters.sort(key=lambda c: (-sum(c.values()), min(c)))
    return clusters


def _title(index: int, anchors: list[str], ctx: GenerationContext) -> str:
    names = [ctx.catalog.name(a) for a in anchors[:2]]
    if len(anchors) == 1:
        return f"Mix {index}: {names[0]} and more"
    return f"Mix {index}: {names[0]}, {names[1]} and more"


def _familiar_tracks(
    ctx: GenerationContext, user: UserProfile, anchors: dict[str, float], count: int
) -> list[MixTrack]:
    """Round-robin over anchors, strongest first: their tracks the listener plays most, then
    their popular ones."""
    own: dict[str, list[tuple[float, str]]] = {}
    for track_id, plays in zip(user.history.track_ids, user.history.plays, strict=True):
        track = ctx.catalog.tracks.get(track_id)
        if track is not None:
            for artist in track.artist_ids:
                if artist in anchors:
                    own.setdefault(artist, []).append((-float(plays), track_id))
    queues: dict[str, list[str]] = {}
    for artist in anchors:
        mine = [t for _, t in sorted(own.get(artist, []))]
        popular = [t for t in ctx.catalog.artist_tracks.get(artist, ()) if t not in set(mine)]
        queues[artist] = mine + popular
    order = sorted(anchors, key=lambda a: (-anchors[a], a))
    picked: list[MixTrack] = []
    while len(picked) < count and any(queues.values()):
        for artist in order:
            if queues[artist]:
                track_id = queues[artist].pop(0)
                track = ctx.catalog.tracks[track_id]
                basis = "followed_artist" if artist in user.follows else "history"
                reason = (
                    Reason(basis, {"artist_id": artist})
                    if user.personalised
                    else Reason("seed", {"artist_id": artist, "basis": "popular in the pool"})
                )
                picked.append(MixTrack(track_id, track.artist_ids, track.title, reason))
    return picked


def _discovery_tracks(
    ctx: GenerationContext,
    user: UserProfile,
    anchors: dict[str, float],
    played_artists: set[str],
    count: int,
) -> list[MixTrack]:
    settings = ctx.settings
    excluded = played_artists | user.exclusions.artists
    neighbours = neighbours_of(ctx.graph, anchors, exclude=excluded, blocked=ctx.blocked)
    recent = user.recent_tracks(ctx.today, settings.recent_days)
    picked: list[MixTrack] = []
    for neighbour in neighbours:
        if len(picked) >= count:
            break
        reason = edge_reason(ctx.graph, neighbour.anchor, neighbour.artist_id)
        fresh = [
            t for t in ctx.catalog.artist_tracks.get(neighbour.artist_id, ()) if t not in recent
        ][: settings.max_discovery_tracks_per_artist]
        for track_id in fresh:
            track = ctx.catalog.tracks[track_id]
            picked.append(MixTrack(track_id, track.artist_ids, track.title, reason, "discovery"))
    return picked[:count]


def _build_mix(
    ctx: GenerationContext,
    user: UserProfile,
    index: int,
    anchors: dict[str, float],
    played_artists: set[str],
) -> Mix:
    settings = ctx.settings
    target = settings.mix_target_tracks
    familiar_target = round(target * settings.familiar_share)
    rules = _rules(ctx, user)
    # Ask for more than needed: the repetition rules remove some.
    familiar = rules(_familiar_tracks(ctx, user, anchors, 2 * familiar_target))[:familiar_target]
    # A small region of taste is topped up with discoveries, as long as familiar tracks stay
    # at least min_familiar_share of the mix; otherwise the mix keeps its planned share.
    discovery_count = max(
        target - familiar_target,
        min(
            target - len(familiar), int(len(familiar) / settings.min_familiar_share) - len(familiar)
        ),
    )
    discovery = rules(_discovery_tracks(ctx, user, anchors, played_artists, 2 * discovery_count))[
        :discovery_count
    ]
    tracks = spread_artists(rules(interleave(familiar, discovery)))
    ordered = sorted(anchors, key=lambda a: (-anchors[a], a))
    return make_mix(
        ctx,
        "mix",
        f"{user.user_id}:{index}",
        _title(index, ordered, ctx),
        tracks[: settings.mix_max_tracks],
    )


def _rules(ctx: GenerationContext, user: UserProfile):  # type: ignore[no-untyped-def]
    settings = ctx.settings
    steps = [
        drop_excluded(user.exclusions),
        drop_blocked(ctx.blocked),
        drop_duplicates(ctx.catalog.isrc_of),
        drop_recently_played(user.recent_tracks(ctx.today, settings.recent_days)),
        cap_per_artist(settings.max_tracks_per_artist, settings.max_discovery_tracks_per_artist),
    ]
    return lambda tracks: apply_steps(tracks, steps)


def generate(ctx: GenerationContext, user: UserProfile) -> GenerationResult:
    """Up to ``max_mixes`` mixes of ``mix_min_tracks``-``mix_max_tracks`` tracks."""
    settings = ctx.settings
    if user.personalised and user.history.track_ids:
        affinity = artist_affinity(user.history, ctx.catalog)
        played = set(affinity)
    else:
        popular = ctx.catalog.popular_artists(settings.cold_start_artists)
        affinity = {a: float(ctx.catalog.artist_listeners.get(a, 0)) + 1.0 for a in popular}
        played = set()
    affinity = {a: w for a, w in affinity.items() if a not in user.exclusions.artists}
    top = dict(sorted(affinity.items(), key=lambda kv: (-kv[1], kv[0]))[: settings.top_artists])
    familiar = round(settings.mix_target_tracks * settings.familiar_share)
    min_size = -(-familiar // settings.max_tracks_per_artist)
    clusters = cluster_artists(ctx.graph, top, settings.seed, min_size)
    mixes: list[Mix] = []
    notes: list[str] = []
    for cluster in clusters:
        if len(mixes) >= settings.max_mixes:
            break
        mix = _build_mix(ctx, user, len(mixes) + 1, cluster, played)
        if len(mix.tracks) >= settings.mix_min_tracks:
            mixes.append(mix)
        else:
            anchors = ", ".join(sorted(cluster)[:3])
            notes.append(f"too few candidates around {anchors}: {len(mix.tracks)} tracks")
    if not mixes and len(clusters) > 1:
        # A narrow or scattered taste: one mix around all of it beats none.
        mix = _build_mix(ctx, user, 1, top, played)
        if len(mix.tracks) >= settings.mix_min_tracks:
            mixes.append(mix)
            notes.append("regions of taste too small apart: one mix around all top artists")
    if not mixes and user.personalised:
        notes.append("personal history too thin for a mix: non-personalised mixes instead")
        return GenerationResult(
            generate(ctx, replace(user, personalised=False)).mixes, tuple(notes)
        )
    if not mixes and not notes:
        notes.append("no artists to build a mix around")
    return GenerationResult(tuple(mixes), tuple(notes))
