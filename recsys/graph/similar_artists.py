"""Joining curator links and ALS neighbours into one similar-artist graph (networkx).

A curator's word wins over the model: a ``block`` removes the pair whatever ALS says, and a
``similar`` link is always an edge, with the curator's weight, even between artists the model
has never seen. Only artists the pool vouches for become nodes, so a link to an artist whose
verification was revoked disappears at the next build without anyone editing it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import networkx as nx

from recsys.curation.links import CuratorLink, canonical_pair

EdgeSource = Literal["curated", "als"]


@dataclass(frozen=True, slots=True)
class GraphSettings:
    """``config/default.toml`` ``[graph]``."""

    als_neighbours: int = 20
    min_als_score: float = 0.2
    tag_weight: float = 1.0


@dataclass(frozen=True, slots=True)
class SimilarArtist:
    artist_id: str
    score: float
    source: EdgeSource
    link: CuratorLink | None = None  # the curator's link, when the edge is curated


def build_similar_artist_graph(
    pool_artists: Collection[str],
    links: Iterable[CuratorLink],
    als_neighbours: Mapping[str, Sequence[tuple[str, float]]],
    settings: GraphSettings,
) -> nx.Graph:
    """Nodes: pool artists. Edges: curated links, then ALS neighbours that no block forbids."""
    graph = nx.Graph()
    graph.add_nodes_from(sorted(pool_artists))
    blocked: set[tuple[str, str]] = set()
    for link in links:
        if link.artist_a not in pool_artists or link.artist_b not in pool_artists:
            continue
        if link.kind == "block":
            blocked.add(link.pair)
            continue
        graph.add_edge(link.artist_a, link.artist_b, score=link.weight, source="curated", link=link)
    for artist, neighbours in als_neighbours.items():
        if artist not in pool_artists:
            continue
        for other, score in als_edges(artist, neighbours, settings):
            if other not in pool_artists:
                continue
            pair = canonical_pair(artist, other)
            if pair in blocked:
                continue
            existing = graph.get_edge_data(artist, other)
            if existing is None:
                graph.add_edge(artist, other, score=float(score), source="als", link=None)
            elif existing["source"] == "als":
                existing["score"] = max(existing["score"], float(score))
            # A curated edge keeps the curator's weight: the model never overrides it.
    return graph


def als_edges(
    artist: str, neighbours: Sequence[tuple[str, float]], settings: GraphSettings
) -> Iterable[tuple[str, float]]:
    """The edges an artist's ALS neighbours (closest first) give it: the first
    ``als_neighbours``, those scoring at least ``min_als_score``, never to itself."""
    for other, score in neighbours[: settings.als_neighbours]:
        if score >= settings.min_als_score and other != artist:
            yield other, score


def als_pair_score(
    als_neighbours: Mapping[str, Sequence[tuple[str, float]]],
    a: str,
    b: str,
    settings: GraphSettings,
) -> float | None:
    """The score ALS alone gives the edge between ``a`` and ``b`` (the stronger of the two
    directions), or None when the model gives them none: what the pair falls back to when a
    curator's link or block between them is removed."""
    scores = [
        float(score)
        for artist, other in ((a, b), (b, a))
        for found, score in als_edges(artist, als_neighbours.get(artist, ()), settings)
        if found == other
    ]
    return max(scores) if scores else None


def similar_artists(graph: nx.Graph, artist_id: str, limit: int) -> list[SimilarArtist]:
    """An artist's neighbours, strongest first (curated before ALS on equal scores)."""
    if artist_id not in graph:
        return []
    neighbours = [
        SimilarArtist(other, float(data["score"]), data["source"], data["link"])
        for other, data in graph[artist_id].items()
    ]
    neighbours.sort(key=lambda s: (-s.score, s.source != "curated", s.artist_id))
    return neighbours[:limit]
