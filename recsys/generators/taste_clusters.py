"""Regions of one listener's taste: their top artists grouped by the graph's scenes.

Scenes are the Louvain communities (Blondel et al., 2008) of the whole similar-artist graph,
found once per graph; the passes over the nodes run compiled (``louvain_kernel``: on SPEC's
75,900-artist catalogue the plain-Python loops took most of a minute). networkx's general
implementation gives the same kind of partition, modularity at resolution 1, at several times
the cost. A listener's top artists are then grouped by scene, which costs a lookup per artist.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys.generators import louvain_kernel as kernel

GraphWeights = Mapping[str, Mapping[str, float]]  # artist -> neighbour -> edge score


def louvain(
    nodes: list[str], weights: GraphWeights, seed: int, resolution: float = 1.0
) -> list[set[str]]:
    """Communities of ``nodes`` on the edges among them (one community per isolated node).

    Levels of local moving (each node, in a random order per pass, joins the neighbouring
    community with the best modularity gain until a pass moves nothing), each followed by
    merging every community into one node, until a level moves nothing. The passes run
    compiled (``louvain_kernel``); the random order comes from ``random.Random(seed)``.
    """
    index = {node: i for i, node in enumerate(nodes)}
    indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    indices: list[int] = []
    values: list[float] = []
    for node, i in index.items():
        for other, w in weights.get(node, {}).items():
            j = index.get(other)
            if j is not None and j != i and w > 0:
                indices.append(j)
                values.append(float(w))
        indptr[i + 1] = len(indices)
    if not indices:
        return [{node} for node in nodes]
    adjacency = (indptr, np.array(indices, dtype=np.int64), np.array(values, dtype=np.float64))
    group_of = np.arange(len(nodes), dtype=np.int64)  # each node's node at the current level
    rng = random.Random(seed)
    while True:
        community, moved = _one_level(*adjacency, rng, resolution)
        if not moved:
            break
        new_of, *merged = kernel.aggregate(*adjacency, community)
        adjacency = (merged[0], merged[1], merged[2])
        group_of = new_of[group_of]
    members: list[set[str]] = [set() for _ in range(len(adjacency[0]) - 1)]
    for node, group in zip(nodes, group_of.tolist(), strict=True):
        members[group].add(node)
    return members


def _one_level(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    rng: random.Random,
    resolution: float,
) -> tuple[npt.NDArray[np.int64], bool]:
    """Local moving until a pass moves nothing; returns each node's community and whether any
    node moved at all. Each pass shuffles the order left by the one before."""
    n = len(indptr) - 1
    degree = kernel.degrees(indptr, indices, weights)
    two_m = kernel.total_weight(degree)
    community = np.arange(n, dtype=np.int64)
    total = degree.copy()
    order = list(range(n))
    moved_any = False
    while True:
        rng.shuffle(order)
        ordered = np.array(order, dtype=np.int64)
        if not kernel.local_pass(
            ordered, indptr, indices, weights, degree, two_m, resolution, community, total
        ):
            return community, moved_any
        moved_any = True


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
