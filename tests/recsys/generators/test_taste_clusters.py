"""Scenes (Louvain on the whole graph) and a listener's artists grouped by them, on hand-made
graphs with a known answer; Louvain against networkx's implementation on random graphs (same
modularity to within a small margin)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.generators.taste_clusters import GraphWeights, cluster_artists, find_scenes, louvain
from tests.oracle.louvain import louvain as oracle_louvain


def weights_of(edges: list[tuple[str, str, float]]) -> dict[str, dict[str, float]]:
    weights: dict[str, dict[str, float]] = {}
    for a, b, w in edges:
        weights.setdefault(a, {})[b] = w
        weights.setdefault(b, {})[a] = w
    return weights


def clique(names: str, w: float = 1.0) -> list[tuple[str, str, float]]:
    return [(a, b, w) for i, a in enumerate(names) for b in names[i + 1 :]]


def test_two_scenes_joined_by_a_weak_edge_are_two_communities() -> None:
    weights = weights_of([*clique("abcde"), *clique("vwxyz"), ("a", "v", 0.05)])
    found = louvain(sorted("abcdevwxyz"), weights, seed=7)
    assert sorted(map(sorted, found)) == [list("abcde"), list("vwxyz")]


def test_artists_without_edges_stay_alone_and_unknown_ones_are_left_out() -> None:
    weights = weights_of(clique("abc"))
    weights["q"] = {}
    scenes = find_scenes(weights, seed=7)
    clusters = cluster_artists(scenes, {"a": 3, "b": 2, "c": 1, "q": 7, "unknown": 9}, 1)
    assert clusters == [{"q": 7}, {"a": 3, "b": 2, "c": 1}]


def test_a_listener_is_grouped_by_the_scenes_of_the_whole_graph() -> None:
    # Two scenes; the listener knows three artists of each and none of the edges between
    # their own artists: grouping follows the graph, not the listener's handful of edges.
    weights = weights_of([*clique("abcdef"), *clique("uvwxyz"), ("a", "u", 0.05)])
    scenes = find_scenes(weights, seed=7)
    assert scenes.scene_of["a"] == scenes.scene_of["f"] != scenes.scene_of["u"]
    assert scenes.links[scenes.scene_of["a"]] == {scenes.scene_of["u"]: 0.05}
    clusters = cluster_artists(scenes, {"a": 1, "e": 2, "f": 3, "x": 9, "y": 1, "z": 1}, 3)
    assert clusters == [{"x": 9, "y": 1, "z": 1}, {"a": 1, "e": 2, "f": 3}]


def test_a_piece_too_small_for_a_mix_joins_the_group_its_scene_links_to_most() -> None:
    weights = weights_of(
        [*clique("abcdef"), *clique("uvwxyz"), *clique("ghi"), ("g", "a", 0.2), ("h", "u", 0.1)]
    )
    weights.setdefault("q", {})
    scenes = find_scenes(weights, seed=7)
    affinity = {a: 1.0 for a in "abcdefuvwxyzgq"}
    clusters = cluster_artists(scenes, affinity, min_size=4)
    # g's scene links 0.2 to a's and 0.1 to u's; q has no edge at all and stays alone.
    assert sorted(sorted(c) for c in clusters) == [list("abcdefg"), ["q"], list("uvwxyz")]


def test_higher_resolution_finds_smaller_scenes() -> None:
    weights = weights_of([*clique("abcd"), *clique("efgh"), ("a", "e", 0.6), ("b", "f", 0.6)])
    coarse = find_scenes(weights, seed=7, resolution=0.1)
    fine = find_scenes(weights, seed=7, resolution=2.0)
    assert len(set(coarse.scene_of.values())) == 1
    assert len(set(fine.scene_of.values())) == 2


def test_the_same_seed_gives_the_same_clusters() -> None:
    weights = weights_of([*clique("abcd", 0.5), *clique("cdefg", 0.4), ("g", "a", 0.3)])
    affinity = {a: float(ord(a)) for a in "abcdefg"}
    first, second = find_scenes(weights, 3), find_scenes(weights, 3)
    assert cluster_artists(first, affinity, 2) == cluster_artists(second, affinity, 2)


def modularity(weights: GraphWeights, communities: list[set[str]]) -> float:
    graph = nx.Graph()
    graph.add_nodes_from(weights)
    for a, row in weights.items():
        for b, w in row.items():
            graph.add_edge(a, b, weight=w)
    return float(nx.community.modularity(graph, communities, weight="weight"))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 24), st.integers(0, 24), st.floats(0.05, 1.0, allow_nan=False)),
        min_size=1,
        max_size=120,
    ),
    st.integers(0, 10),
)
def test_partitions_are_as_good_as_networkx_louvain(
    raw: list[tuple[int, int, float]], seed: int
) -> None:
    edges = [(f"a{i:02d}", f"a{j:02d}", w) for i, j, w in raw if i != j]
    weights = weights_of(edges)
    if not weights:
        return
    nodes = sorted(weights)
    ours = louvain(nodes, weights, seed)
    assert sorted(a for c in ours for a in c) == nodes  # a partition of the nodes
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    for a, b, w in edges:
        graph.add_edge(a, b, weight=w)
    theirs = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    assert modularity(weights, ours) >= modularity(weights, theirs) - 0.05


def _random_weights(nodes: int, edges: int, seed: int) -> dict[str, dict[str, float]]:
    """A graph of a few loose clusters, as a similar-artist graph is."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, max(nodes // 12, 1), size=nodes)
    raw = []
    while len(raw) < edges:
        i, j = (int(x) for x in rng.integers(0, nodes, size=2))
        if i != j and (cluster[i] == cluster[j] or rng.random() < 0.15):
            raw.append((f"a{i:05d}", f"a{j:05d}", float(rng.uniform(0.05, 1.0))))
    return weights_of(raw)


@pytest.mark.parametrize(
    ("nodes", "edges", "seed"), [(40, 90, 1), (600, 2500, 2), (3000, 12000, 3)]
)
@pytest.mark.parametrize("resolution", [1.0, 8.0])
def test_compiled_louvain_finds_the_very_communities_of_the_python_one(
    nodes: int, edges: int, seed: int, resolution: float
) -> None:
    weights = _random_weights(nodes, edges, seed)
    names = sorted(weights)
    ours = louvain(names, weights, seed, resolution)
    assert ours == oracle_louvain(names, weights, seed, resolution)
    assert len(ours) > 1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 30), st.floats(0.05, 1.0, allow_nan=False)),
        min_size=0,
        max_size=150,
    ),
    st.integers(0, 10),
    st.sampled_from([1.0, 2.0, 8.0]),
)
def test_compiled_louvain_matches_the_python_one_on_any_graph(
    raw: list[tuple[int, int, float]], seed: int, resolution: float
) -> None:
    weights = weights_of([(f"a{i:02d}", f"a{j:02d}", w) for i, j, w in raw if i != j])
    names = sorted({f"a{i:02d}" for i, _, _ in raw} | set(weights))  # isolated nodes too
    assert louvain(names, weights, seed, resolution) == oracle_louvain(
        names, weights, seed, resolution
    )
