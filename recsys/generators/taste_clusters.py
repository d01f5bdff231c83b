"""Regions of one listener's taste: their top artists clustered on the similar-artist graph.

Louvain (Blondel et al., 2008) on the small graph induced by a listener's top artists (at most
``top_artists`` nodes). It runs once per listener per rebuild, so it is written for that size:
plain dicts and lists, no graph objects. networkx's general implementation gives the same kind
of partition (modularity at resolution 1) but spent most of the rebuild's time in machinery a
40-node graph does not need.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

GraphWeights = Mapping[str, Mapping[str, float]]  # artist -> neighbour -> edge score


def _one_level(adj: list[dict[int, float]], rng: random.Random) -> tuple[list[int], bool]:
    """Local moving: each node joins the neighbouring community with the best modularity gain,
    in random order, until a pass moves nothing. Returns each node's community."""
    n = len(adj)
    degree = [
        sum(w for j, w in row.items() if j != i) + 2 * row.get(i, 0.0) for i, row in enumerate(adj)
    ]
    two_m = sum(degree)
    community = list(range(n))
    total = list(degree)
    moved_any = False
    order = list(range(n))
    while True:
        rng.shuffle(order)
        moved = False
        for i in order:
            k_i = degree[i]
            links: dict[int, float] = {}
            for j, w in adj[i].items():
                if j != i:
                    links[community[j]] = links.get(community[j], 0.0) + w
            current = community[i]
            total[current] -= k_i
            best, best_gain = current, links.get(current, 0.0) - total[current] * k_i / two_m
            for c, w in links.items():
                gain = w - total[c] * k_i / two_m
                if gain > best_gain + 1e-12:
                    best, best_gain = c, gain
            total[best] += k_i
            if best != current:
                community[i] = best
                moved = moved_any = True
        if not moved:
            return community, moved_any


def louvain(nodes: list[str], weights: GraphWeights, seed: int) -> list[set[str]]:
    """Communities of ``nodes`` on the edges among them (one community per isolated node)."""
    index = {node: i for i, node in enumerate(nodes)}
    adj: list[dict[int, float]] = [{} for _ in nodes]
    for node, i in index.items():
        for other, w in weights.get(node, {}).items():
            j = index.get(other)
            if j is not None and j != i and w > 0:
                adj[i][j] = float(w)
    members: list[set[str]] = [{node} for node in nodes]
    if not any(adj):
        return members
    rng = random.Random(seed)
    while True:
        community, moved = _one_level(adj, rng)
        if not moved:
            return members
        labels = {c: k for k, c in enumerate(dict.fromkeys(community))}
        grouped: list[set[str]] = [set() for _ in labels]
        merged: list[dict[int, float]] = [{} for _ in labels]
        for i, row in enumerate(adj):
            a = labels[community[i]]
            grouped[a] |= members[i]
            for j, w in row.items():
                if j < i:
                    continue  # each edge once; a self-loop (j == i) once
                b = labels[community[j]]
                if a == b:
                    merged[a][a] = merged[a].get(a, 0.0) + w
                else:
                    merged[a][b] = merged[a].get(b, 0.0) + w
                    merged[b][a] = merged[b].get(a, 0.0) + w
        adj, members = merged, grouped


def cluster_artists(
    weights: GraphWeights, affinity: Mapping[str, float], seed: int, min_size: int
) -> list[dict[str, float]]:
    """Communities of the listener's artists on the graph, strongest affinity first.

    Louvain can split one scene into pieces too small to fill a mix; a piece smaller than
    ``min_size`` artists joins the community it is most strongly linked to, if any, so each mix
    stays coherent and as many as possible can be filled.
    """
    nodes = sorted(a for a in affinity if a in weights)
    communities = louvain(nodes, weights, seed)
    communities.sort(key=lambda c: (len(c), min(c)))
    merged = True
    while merged:
        merged = False
        for small in [c for c in communities if len(c) < min_size]:
            links = [
                (
                    sum(weights[a].get(b, 0.0) for a in small for b in other),
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
