"""A curator's word wins: blocks remove pairs, curated links always count, pool-only nodes."""

from __future__ import annotations

from datetime import UTC, datetime

from recsys.curation.links import CuratorLink, make_link
from recsys.graph.similar_artists import (
    GraphSettings,
    build_similar_artist_graph,
    similar_artists,
)

AT = datetime(2026, 11, 1, tzinfo=UTC)
POOL = {"a", "b", "c", "d", "small"}
ALS = {
    "a": [("b", 0.9), ("c", 0.8), ("ghost", 0.95), ("d", 0.1)],
    "b": [("a", 0.9), ("c", 0.7)],
    "c": [("a", 0.8), ("b", 0.7)],
}


def _link(a: str, b: str, kind: str, weight: float | None = 0.6) -> CuratorLink:
    return make_link(
        artist_a=a, artist_b=b, kind=kind, weight=weight, curator="cora", note="", created_at=AT
    )


def test_als_neighbours_become_edges_above_the_minimum_score() -> None:
    graph = build_similar_artist_graph(POOL, [], ALS, GraphSettings(min_als_score=0.2))
    assert {(s.artist_id, s.source) for s in similar_artists(graph, "a", 10)} == {
        ("b", "als"),
        ("c", "als"),
    }


def test_block_removes_the_pair_whatever_als_says() -> None:
    graph = build_similar_artist_graph(POOL, [_link("b", "a", "block", None)], ALS, GraphSettings())
    assert not graph.has_edge("a", "b")
    assert [s.artist_id for s in similar_artists(graph, "a", 10)] == ["c"]


def test_curated_link_is_always_an_edge_with_the_curators_weight() -> None:
    links = [_link("small", "a", "similar", 0.55), _link("a", "c", "similar", 0.3)]
    graph = build_similar_artist_graph(POOL, links, ALS, GraphSettings())
    # "small" has no listening data at all and still gets a neighbour.
    [only] = similar_artists(graph, "small", 10)
    assert (only.artist_id, only.score, only.source) == ("a", 0.55, "curated")
    assert only.link is not None and only.link.curator == "cora"
    # ALS scores a-c at 0.8, but the curator said 0.3: the curator wins.
    edge = graph.get_edge_data("a", "c")
    assert (edge["score"], edge["source"]) == (0.3, "curated")


def test_artists_outside_the_pool_never_become_nodes() -> None:
    links = [_link("a", "unverified", "similar")]
    graph = build_similar_artist_graph(POOL, links, ALS, GraphSettings())
    assert "ghost" not in graph
    assert "unverified" not in graph
    assert similar_artists(graph, "ghost", 5) == []


def test_neighbours_are_ordered_by_score_then_curated_first() -> None:
    links = [_link("a", "d", "similar", 0.9)]
    graph = build_similar_artist_graph(POOL, links, ALS, GraphSettings())
    assert [(s.artist_id, s.source) for s in similar_artists(graph, "a", 2)] == [
        ("d", "curated"),
        ("b", "als"),
    ]
