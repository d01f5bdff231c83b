"""The generation context as integer arrays, for the compiled generators (``batch_kernel``).

Built once per engine and day (before a rebuild forks its workers, who share it
copy-on-write; on request, by ``Engine``). Artists and tracks are numbered in the sorted order
of their ids, so every "ties broken by id" (the test oracle's) is "ties broken by number".
Rows of the graph and of the blocked pairs are sorted by neighbour, so an edge is found by
binary search.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recsys.generators.context import GenerationContext
from recsys.listening.history import ListeningHistory

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def csr(rows: Sequence[Collection[int]]) -> tuple[Ints, Ints]:
    """Rows of numbers as (indptr, values)."""
    lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
    indptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    values = np.fromiter(chain.from_iterable(rows), np.int64, int(indptr[-1]))
    return indptr, values


def _weighted_csr(
    rows: Sequence[Mapping[int, float]],
) -> tuple[Ints, Ints, Floats]:
    """Rows of (neighbour, weight), each sorted by neighbour."""
    ordered = [sorted(r.items()) for r in rows]
    indptr, neighbours = csr([[n for n, _ in r] for r in ordered])
    weights = np.fromiter((w for r in ordered for _, w in r), np.float64, len(neighbours))
    return indptr, neighbours, weights


def _rows_of(
    matrix: sp.csr_matrix, rows: Ints
) -> tuple[Ints, npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """``matrix``'s rows ``rows`` (-1: an empty row) as CSR arrays, each row's entries in
    ``matrix``'s own order."""
    present = rows >= 0
    picked = matrix[rows[present]] if present.any() else sp.csr_matrix((0, matrix.shape[1]))
    lengths = np.zeros(len(rows), np.int64)
    lengths[present] = np.diff(picked.indptr)
    indptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return indptr, picked.indices.astype(np.int32), picked.data.astype(np.float32)


@dataclass(frozen=True)
class GenerationArrays:
    artist_ids: Sequence[str]
    artist_number: Mapping[str, int]
    track_ids: Sequence[str]
    # (track -> artists in credit order, track -> recording, artist -> tracks most listened first)
    catalog: tuple[Ints, Ints, Ints, Ints, Ints]
    graph: tuple[Ints, Ints, Floats]  # artist -> (neighbour, edge score), symmetric
    scenes: tuple[Ints, Ints, Ints, Floats]  # artist -> scene; scene -> (scene, link weight)
    # (release -> tracks, newest release first; artist -> its releases; artist -> neighbours
    # with a release; release track (a position in the first) -> its artists, in credit
    # order) for the context's Release Radar window
    releases: tuple[Ints, Ints, Ints, Ints, Ints, Ints, Ints, Ints]
    blocked: tuple[Ints, Ints]  # artist -> artists a curator blocked it with, sorted
    history_tracks: Ints  # the history's track numbering -> pool track (-1: not in the pool)
    recordings: int  # number of distinct ISRCs
    # The pool's most listened artists (``cold_start_artists`` of them), most listened first,
    # and their weights as anchors (distinct listeners + 1): what anyone without
    # personalisation gets their mixes and Release Radar around.
    popular: tuple[Ints, Floats]
    # Per artist its factors in the model (zeros when it has none, or no columns when the
    # discovery slots are ranked by the graph): the listener's own score of a neighbour.
    artist_factors: npt.NDArray[np.float32]
    # Per artist its tags in the model as (at_ptr, at_tag, at_w), unit rows (empty rows when
    # it has none, or there is no model), and how many tag columns: the listener's score of a
    # neighbour, and the style that orders a mix's anchors (``_style_first``).
    artist_tags: tuple[Ints, npt.NDArray[np.int32], npt.NDArray[np.float32]]
    tags: int

    def artists_csr(self, rows: Sequence[Collection[str]]) -> tuple[Ints, Ints]:
        """Each row's known artists as numbers, each row sorted (by number, so by id), as
        (indptr, values): in a handful of array operations for a chunk's listeners, rather
        than a sort and an array per listener."""
        get = self.artist_number.get
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))
        found = np.fromiter([get(a, -1) for r in rows for a in r], np.int64, int(lengths.sum()))
        row_of = np.repeat(np.arange(len(rows)), lengths)
        known = found >= 0
        found, row_of = found[known], row_of[known]
        indptr = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(np.bincount(row_of, minlength=len(rows)), out=indptr[1:])
        return indptr, found[np.lexsort((found, row_of))]

    def track_number(self, track_id: str) -> int:
        """The number of a pool track (a binary search: track ids are kept sorted)."""
        index = bisect.bisect_left(self.track_ids, track_id)
        if index == len(self.track_ids) or self.track_ids[index] != track_id:
            raise KeyError(f"{track_id} is not a track of the pool")
        return index

    def tracks_of(self, ids: Iterable[str]) -> Ints:
        """Numbers of the pool's tracks among ``ids``, sorted (track ids are kept sorted, so
        a number is a binary search away; a map of every track would cost memory)."""
        numbers = []
        for track_id in ids:
            index = bisect.bisect_left(self.track_ids, track_id)
            if index < len(self.track_ids) and self.track_ids[index] == track_id:
                numbers.append(index)
        return np.array(sorted(numbers), np.int64)


def build_generation_arrays(ctx: GenerationContext, history: ListeningHistory) -> GenerationArrays:
    catalog = ctx.catalog
    artists: set[str] = set(catalog.artist_tracks) | set(ctx.weights) | set(ctx.blocked)
    for row in ctx.weights.values():
        artists.update(row)
    for partners in ctx.blocked.values():
        artists.update(partners)
    for track in catalog.tracks.values():
        artists.update(track.artist_ids)
    artist_ids = sorted(artists)
    number = {a: i for i, a in enumerate(artist_ids)}
    track_ids = sorted(catalog.tracks)
    track_number = {t: i for i, t in enumerate(track_ids)}

    credits = [[number[a] for a in catalog.tracks[t].artist_ids] for t in track_ids]
    t_ptr, t_art = csr(credits)
    isrcs: dict[str, int] = {}
    t_isrc = np.fromiter(
        (isrcs.setdefault(catalog.tracks[t].isrc, len(isrcs)) for t in track_ids),
        np.int64,
        len(track_ids),
    )
    a_ptr, a_trk = csr(
        [[track_number[t] for t in catalog.artist_tracks.get(a, ())] for a in artist_ids]
    )
    graph = _weighted_csr(
        [{number[b]: float(w) for b, w in ctx.weights.get(a, {}).items()} for a in artist_ids]
    )
    scene_of = np.fromiter(
        (ctx.scenes.scene_of.get(a, -1) for a in artist_ids), np.int64, len(artist_ids)
    )
    n_scenes = int(scene_of.max(initial=-1)) + 1
    links = ctx.scenes.links
    scene_links = _weighted_csr([dict(links.get(s, {})) for s in range(n_scenes)])

    recent = ctx.recent_releases(ctx.settings.release_radar_days)
    rel_ptr, rel_trk = csr([[track_number[t] for t in ts] for ts in recent.releases])
    # Each release track's credits, beside it: the radar reads them for every listener.
    credits = t_ptr[rel_trk + 1] - t_ptr[rel_trk]
    rc_ptr = np.zeros(len(rel_trk) + 1, np.int64)
    np.cumsum(credits, out=rc_ptr[1:])
    rc_art = t_art[np.repeat(t_ptr[rel_trk] - rc_ptr[:-1], credits) + np.arange(rc_ptr[-1])]
    ar_ptr, ar_rel = csr([recent.by_artist.get(a, ()) for a in artist_ids])
    er_ptr, er_nbr = csr(
        [sorted(number[b] for b in recent.edges_to_released.get(a, {})) for a in artist_ids]
    )
    bl_ptr, bl_art = csr([sorted(number[b] for b in ctx.blocked.get(a, ())) for a in artist_ids])
    history_tracks = np.fromiter(
        (track_number.get(t, -1) for t in history.tracks.ids), np.int64, len(history.tracks)
    )
    popular = catalog.popular_artists(ctx.settings.cold_start_artists)
    model = ctx.model
    rows = np.full(len(artist_ids), -1, np.int64)
    artist_factors = np.zeros((len(artist_ids), 0), np.float32)
    model_tags = sp.csr_matrix((0, 0), dtype=np.float32)
    if model is not None:
        # The tags order a mix's anchors by style (``mix_familiar_artists``) whatever ranks
        # its discoveries; the factors are read only when the listener's scores rank them.
        for artist, row in number.items():
            found = model.artists.index_of(artist)
            if found is not None:
                rows[row] = found
        model_tags = model.artist_tags
        if ctx.settings.discovery_ranking == "listener":
            artist_factors = np.zeros((len(artist_ids), model.artist_factors.shape[1]), np.float32)
            known = rows >= 0
            artist_factors[known] = model.artist_factors[rows[known]]
    artist_tags = _rows_of(model_tags, rows)
    return GenerationArrays(
        artist_ids=artist_ids,
        artist_number=number,
        track_ids=track_ids,
        catalog=(t_ptr, t_art, t_isrc, a_ptr, a_trk),
        graph=graph,
        scenes=(scene_of, *scene_links),
        releases=(rel_ptr, rel_trk, ar_ptr, ar_rel, er_ptr, er_nbr, rc_ptr, rc_art),
        blocked=(bl_ptr, bl_art),
        history_tracks=history_tracks,
        recordings=len(isrcs),
        artist_factors=artist_factors,
        artist_tags=artist_tags,
        tags=model_tags.shape[1],
        popular=(
            np.array([number[a] for a in popular], np.int64),
            np.array([catalog.artist_listeners.get(a, 0) + 1.0 for a in popular], np.float64),
        ),
    )
