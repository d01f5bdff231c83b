"""Regions of one listener's taste: their top artists grouped by the graph's scenes.

Scenes are the Louvain communities (Blondel et al., 2008) of the whole similar-artist graph,
found once per graph with plain dicts and lists (networkx's general implementation gives the
same kind of partition, modularity at resolution 1, at several times the cost). A listener's
top artists are then grouped by scene, which costs a lookup per artist.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

GraphWeights = Mapping[str, Mapping[str, float]]  # artist -> neighbour -> edge score


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


@dataclass(frozen=True)
class ArtistScenes:
    """The whole similar-artist graph's communities ("scenes"), found once per graph.

    A listener's regions of taste are their top artists grouped by scene: the grouping is a
    lookup per artist instead of a community search per listener, which is what lets a rebuild
    generate thousands of listeners a second; and two listeners of one scene get mixes that
    agree on what the scene is.
    """

    scene_of: Mapping[str, int]  # artist -> scene (scenes numbered by their first artist)
    links: Mapping[int, Mapping[int, float]]  # scene -> other scene -> edge weight between them


def find_scenes(weights: GraphWeights, seed: int, resolution: float = 1.0) -> ArtistScenes:
    """Louvain communities of the whole graph, and how strongly each pair of them is linked."""
    communities = sorted(louvain(sorted(weights), weights, seed, resolution), key=min)
    scene_of = {artist: index for index, members in enumerate(communities) for artist in members}
    links: dict[int, dict[int, float]] = {}
    for artist, row in weights.items():
        mine = scene_of[artist]
        for other, weight in row.items():
            theirs = scene_of.get(other)
            if theirs is not None and theirs != mine and weight > 0:
                between = links.setdefault(mine, {})
                between[theirs] = between.get(theirs, 0.0) + float(weight)
    return ArtistScenes(scene_of, links)


def cluster_artists(
    scenes: ArtistScenes, affinity: Mapping[str, float], min_size: int
) -> list[dict[str, float]]:
    """The listener's artists grouped by scene, strongest affinity first.

    A listener may hold only one or two artists of a scene, too few to fill a mix; a group
    smaller than ``min_size`` artists joins the group whose scenes its own scenes are most
    strongly linked to, if any, so each mix stays coherent and as many as possible can be
    filled. Artists outside the graph are left out.
    """
    by_scene: dict[int, set[str]] = {}
    for artist in affinity:
        scene = scenes.scene_of.get(artist)
        if scene is not None:
            by_scene.setdefault(scene, set()).add(artist)
    groups = [(members, {scene}) for scene, members in by_scene.items()]
    groups.sort(key=lambda g: (len(g[0]), min(g[0])))
    links = scenes.links
    merged = True
    while merged:
        merged = False
        for small in [g for g in groups if len(g[0]) < min_size]:
            best = (0.0, "", -1)
            for index, other in enumerate(groups):
                if other is small:
                    continue
                weight = sum(  # in scene order: the same sum in every process
                    links.get(mine, {}).get(theirs, 0.0)
                    for mine in sorted(small[1])
                    for theirs in sorted(other[1])
                )
                best = max(best, (weight, min(other[0]), index))
            if best[0] > 0:
                target = groups[best[2]]
                target[0].update(small[0])
                target[1].update(small[1])
                groups.remove(small)
                merged = True
                break
    clusters = [{a: affinity[a] for a in sorted(members)} for members, _ in groups]
    clusters.sort(key=lambda c: (-sum(c.values()), min(c)))
    return clusters
