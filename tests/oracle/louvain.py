"""The oracle's Louvain: the plain-Python implementation the compiled one
(``recsys.generators.louvain_kernel``) replaced, kept to check that the compiled one finds the
very same communities (the same random order, the same float sums, the same tie-breaks)."""

from __future__ import annotations

import random

from recsys.generators.taste_clusters import GraphWeights


def _one_level(
    adj: list[dict[int, float]], rng: random.Random, resolution: float
) -> tuple[list[int], bool]:
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
            scale = resolution * k_i / two_m
            best, best_gain = current, links.get(current, 0.0) - total[current] * scale
            for c, w in links.items():
                gain = w - total[c] * scale
                if gain > best_gain + 1e-12:
                    best, best_gain = c, gain
            total[best] += k_i
            if best != current:
                community[i] = best
                moved = moved_any = True
        if not moved:
            return community, moved_any


def louvain(
    nodes: list[str], weights: GraphWeights, seed: int, resolution: float = 1.0
) -> list[set[str]]:
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
        community, moved = _one_level(adj, rng, resolution)
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
