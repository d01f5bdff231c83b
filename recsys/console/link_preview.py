"""What a curator's link edit would change, shown before it is saved.

A curator adding, blocking or removing a link between artists A and B sees A's radio as it is
and as it would be (tracks added and removed), and how many listeners' stored mixes play
both artists. The "after" radio comes from the same generator as the real one, over the
engine with only the pair's edge changed: the graph's weights and blocks are copied shallowly
with A's and B's rows replaced, and the graph is seen through an overlay of that one edge
(``PairEdgeOverlay``: a copy of a large graph would cost seconds). Removing a block also
rebuilds the generator's arrays, which hold the blocks the repetition rules check; that is
rare and costs more. The edge the pair falls back to when a curated link or block goes is
what ALS alone gives it (``als_pair_score``), as the next engine build would make it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, cast

import networkx as nx

from recsys.curation.links import CuratorLink, canonical_pair
from recsys.domain.mix import Mix, MixTrack
from recsys.engine.loading import Engine
from recsys.generators.registry import GenerationRequest, run_generator
from recsys.graph.similar_artists import als_pair_score

ChangeKind = Literal["similar", "block", "remove"]


@dataclass(frozen=True, slots=True)
class LinkChange:
    """One edit of the pair (artist, other) as a curator asks for it."""

    artist: str  # the artist whose page the edit is made from: its radio is previewed
    other: str
    kind: ChangeKind
    weight: float
    curator: str
    note: str
    at: datetime

    @property
    def pair(self) -> tuple[str, str]:
        return canonical_pair(self.artist, self.other)

    def as_link(self) -> CuratorLink:
        a, b = self.pair
        kind = "block" if self.kind == "block" else "similar"
        return CuratorLink(a, b, kind, self.weight, self.curator, self.note, self.at)


@dataclass(frozen=True, slots=True)
class RadioDiff:
    before: tuple[MixTrack, ...]
    after: tuple[MixTrack, ...]

    @property
    def added(self) -> list[MixTrack]:
        had = {t.track_id for t in self.before}
        return [t for t in self.after if t.track_id not in had]

    @property
    def removed(self) -> list[MixTrack]:
        kept = {t.track_id for t in self.after}
        return [t for t in self.before if t.track_id not in kept]

    @property
    def artists_added(self) -> list[str]:
        """Artists the radio plays after and not before: what the change brings, at a glance."""
        had = {a for t in self.before for a in t.artist_ids}
        return sorted({a for t in self.after for a in t.artist_ids} - had)

    @property
    def artists_removed(self) -> list[str]:
        kept = {a for t in self.after for a in t.artist_ids}
        return sorted({a for t in self.before for a in t.artist_ids} - kept)


def artist_radio(engine: Engine, artist_id: str) -> Mix:
    """The artist's non-personalised radio, after the final filter, as listeners get it."""
    result, _ = run_generator("artist_radio", engine, GenerationRequest(seed_artist=artist_id))
    return result.mixes[0]


def _als_neighbours(engine: Engine, artists: tuple[str, ...]) -> dict[str, list[tuple[str, float]]]:
    model = engine.context.model
    if model is None:
        return {}
    ids = model.artists.ids
    found: dict[str, list[tuple[str, float]]] = {}
    for artist in artists:
        row = model.artists.index_of(artist)
        if row is not None:
            found[artist] = [
                (ids[int(j)], float(s))
                for j, s in zip(model.neighbour_index[row], model.neighbour_score[row], strict=True)
            ]
    return found


def edge_after(engine: Engine, change: LinkChange, settings: Any) -> dict[str, Any] | None:
    """The graph edge of the pair once the change is made (its data), or None for none."""
    if change.kind == "block":
        return None
    if change.kind == "similar":
        return {"score": change.weight, "source": "curated", "link": change.as_link()}
    score = als_pair_score(_als_neighbours(engine, change.pair), *change.pair, settings)
    return None if score is None else {"score": score, "source": "als", "link": None}


def _row(weights: Mapping[str, Mapping[str, float]], artist: str) -> dict[str, float]:
    return dict(weights.get(artist, {}))


def engine_after(engine: Engine, change: LinkChange, graph_settings: Any) -> Engine:
    """The engine as it would be with the change made, for the previewed artist's radio."""
    ctx = engine.context
    a, b = change.pair
    edge = edge_after(engine, change, graph_settings)
    weights = dict(ctx.weights)
    row_a, row_b = _row(ctx.weights, a), _row(ctx.weights, b)
    row_a.pop(b, None)
    row_b.pop(a, None)
    if edge is not None:
        row_a[b] = row_b[a] = float(edge["score"])
    weights[a], weights[b] = row_a, row_b
    blocked = dict(ctx.blocked)
    partners_a, partners_b = blocked.get(a, frozenset()), blocked.get(b, frozenset())
    was_blocked = b in partners_a
    if change.kind == "block":
        blocked[a], blocked[b] = partners_a | {b}, partners_b | {a}
    else:
        blocked[a], blocked[b] = partners_a - {b}, partners_b - {a}
    unblocks = was_blocked and change.kind != "block"
    graph = _graph_after(ctx.graph, (a, b), edge, whole=unblocks)
    context = replace(ctx, graph=graph, weights=weights, blocked=blocked, _shared={})
    if unblocks:
        # The repetition rules' arrays hold the old block: a generator of their own.
        return engine.regenerated(context)
    return replace(engine, context=context)


class PairEdgeOverlay:
    """A graph with one pair's edge replaced, for the only lookup a radio makes of it (an
    edge's data, for a track's reason: ``edge_reason``): copying even the seed's two hops of
    a large graph costs more than the two radios. Not a ``networkx.Graph``: any other use
    fails loudly rather than reading the wrong graph."""

    def __init__(self, graph: nx.Graph, pair: tuple[str, str], edge: dict[str, Any] | None):
        self._graph = graph
        self._pair = frozenset(pair)
        self._edge = edge

    def __contains__(self, node: object) -> bool:
        return node in self._graph

    def get_edge_data(self, u: str, v: str, default: Any = None) -> Any:
        if frozenset((u, v)) == self._pair:
            return default if self._edge is None else self._edge
        return self._graph.get_edge_data(u, v, default)


def _graph_after(
    graph: nx.Graph, pair: tuple[str, str], edge: dict[str, Any] | None, *, whole: bool
) -> nx.Graph:
    """The graph with the pair's edge changed: a copy when arrays are built from it (a
    block removed: the generator's own arrays), else an overlay of that one edge."""
    if not whole:
        return cast(nx.Graph, PairEdgeOverlay(graph, pair, edge))
    changed = graph.copy()
    a, b = pair
    if changed.has_edge(a, b):
        changed.remove_edge(a, b)
    if edge is not None and a in changed and b in changed:
        changed.add_edge(a, b, **edge)
    return changed


def preview(engine: Engine, change: LinkChange, graph_settings: Any) -> RadioDiff:
    """The previewed artist's radio before and after the change."""
    before = artist_radio(engine, change.artist)
    after = artist_radio(engine_after(engine, change, graph_settings), change.artist)
    return RadioDiff(before.tracks, after.tracks)
