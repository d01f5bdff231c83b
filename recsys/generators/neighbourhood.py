"""Shared building blocks of the generators: a listener's artist affinity, graph
neighbourhoods scored from several anchors, and the reason an edge gives a track.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

import networkx as nx

from recsys.domain.mix import Reason
from recsys.generators.catalog_index import CatalogIndex
from recsys.generators.taste_clusters import GraphWeights
from recsys.listening.history import TrackHistory


def artist_affinity(history: TrackHistory, catalog: CatalogIndex) -> dict[str, float]:
    """Plays per pool artist (every credited main artist), skips counting for less."""
    affinity: dict[str, float] = {}
    for track_id, plays, heard in zip(history.track_ids, history.plays, history.heard, strict=True):
        track = catalog.tracks.get(track_id)
        if track is None:
            continue
        weight = float(plays) * (0.25 + 0.75 * float(heard))
        for artist in track.artist_ids:
            affinity[artist] = affinity.get(artist, 0.0) + weight
    return affinity


def edge_reason(graph: nx.Graph, anchor: str, artist: str) -> Reason:
    """Why ``artist`` is here because of ``anchor``: the curator's link, or the ALS score."""
    data = graph.get_edge_data(anchor, artist)
    if data is None:
        return Reason("seed", {"artist_id": anchor})
    link = data.get("link")
    if data["source"] == "curated" and link is not None:
        return Reason(
            "curated_link",
            {
                "artist_id": anchor,
                "curator": link.curator,
                "note": link.note,
                "weight": round(link.weight, 4),
            },
        )
    return als_reason(anchor, float(data["score"]))


def als_reason(anchor: str, score: float) -> Reason:
    """The reason of an ALS edge from ``anchor`` with this score."""
    return Reason("als_neighbour", {"artist_id": anchor, "score": als_score(score)})


def als_score(score: float) -> float:
    """An ALS edge's score as its reason shows it."""
    return round(score, 4)


@dataclass(frozen=True, slots=True)
class Neighbour:
    artist_id: str
    score: float
    anchor: str  # the anchor whose edge contributes most: the reason's "via"


def graph_weights(graph: nx.Graph) -> dict[str, dict[str, float]]:
    """The graph's edge scores as plain dicts: the generators walk them for every listener,
    and networkx's adjacency views cost more than the walk itself."""
    return {
        a: {b: float(data["score"]) for b, data in nbrs.items()} for a, nbrs in graph.adj.items()
    }


def neighbours_of(
    weights: GraphWeights,
    anchors: Mapping[str, float],
    *,
    exclude: Collection[str],
    blocked: Mapping[str, frozenset[str]],
) -> Iterator[Neighbour]:
    """Artists one edge away from the weighted anchors, best first.

    An artist blocked with *any* anchor is left out: a curator's block means "never put these
    two together", which a mix built around both would do even via a third artist.
    ``blocked`` maps each artist to those it is blocked with.
    Lazy: a generator that needs a few neighbours does not pay for naming every one's anchor.
    """
    scores: dict[str, float] = {}
    get = scores.get
    for anchor, weight in anchors.items():
        row = weights.get(anchor)
        if row is not None:
            for other, score in row.items():
                scores[other] = get(other, 0.0) + weight * score
    # Set operations run in C: a listener's neighbourhood has hundreds of artists.
    keep = scores.keys() - exclude
    keep.difference_update(anchors)
    for artist in blocked.keys() & keep:
        if not blocked[artist].isdisjoint(anchors):
            keep.discard(artist)
    ranked = [(-scores[artist], artist) for artist in keep]
    ranked.sort()
    for negative, artist in ranked:
        yield Neighbour(artist, -negative, strongest_anchor(weights, anchors, artist))


def strongest_anchor(weights: GraphWeights, anchors: Mapping[str, float], artist: str) -> str:
    """The anchor whose edge to ``artist`` contributes most (the first of equals in the
    anchors' order), or "" when none is linked: the reason's "via". Asked only for the
    neighbours a generator takes. ``weights`` is symmetric (the graph is undirected), so the
    artist's own row names the few anchors it is linked to."""
    row = weights.get(artist)
    if not row:
        return ""
    via, strongest, tied = "", -math.inf, False
    for anchor in row.keys() & anchors.keys():
        contribution = anchors[anchor] * row[anchor]
        if contribution > strongest:
            via, strongest, tied = anchor, contribution, False
        elif contribution == strongest:
            tied = True
    if tied:
        via = next(a for a, w in anchors.items() if a in row and w * row[a] == strongest)
    return via


def blocked_partners(pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """Each artist → the artists a curator blocked it with (both directions)."""
    partners: dict[str, set[str]] = {}
    for a, b in pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    return {artist: frozenset(others) for artist, others in partners.items()}
