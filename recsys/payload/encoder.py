"""Stored payloads straight from the compiled generators' rows: the rebuild's common case.

``encode_user(final_filter(mix) ...)`` over ``Mix`` values costs more than generating them:
an object per track, a filter pass, a render. For a listener whose output holds no withheld
track (nearly all: the generators draw from the pool, and the final filter would remove
nothing), this writes the same bytes from the rows, with each track's and each reason's JSON
made once per process (``TextTable``) and the payloads assembled by compiled code
(``payload.assembly``). A listener for whom the final filter would change something goes
the ``Mix`` way and its final filter. Tests hold both ways to the same payloads, byte for
byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from recsys.domain.mix import BASES, PERSONAL_BASIS, Basis, MixKind
from recsys.generators.batch import (
    RADAR_TITLE,
    BatchGenerator,
    CompiledChunk,
    mix_title,
    popular_reason,
)
from recsys.generators.batch_kernel import (
    HISTORY,
    MIX_ANCHOR1,
    MIX_ANCHOR2,
    MIX_START,
    MIX_STOP,
    MIX_USER,
    RADAR_TRACK,
    SEED,
    TRACK,
)
from recsys.generators.neighbourhood import als_reason, als_score
from recsys.generators.result import format_mix_id, mix_digest
from recsys.payload.assembly import DIGEST, PIECES, assemble_payloads, json_items, track_heads
from recsys.payload.codec import PAYLOAD_VERSION, compress_payload
from recsys.payload.render import mix_head, track_head
from recsys.serving.final_filter import ServingGate, chunk_filter_changes

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class TextTable:
    """Strings numbered 0..size-1, stored end to end in one growing byte array, so compiled
    code reads string k as ``text[start[k]:stop[k]]``. Each is set once, when first needed."""

    def __init__(self, size: int) -> None:
        self.text = np.empty(1 << 16, np.uint8)
        self._used = 0
        self.start = np.zeros(size, np.int64)
        self.stop = np.zeros(size, np.int64)
        self._set = np.zeros(size, np.bool_)

    def missing(self, numbers: Ints) -> list[int]:
        """The distinct numbers among ``numbers`` whose string is not set yet."""
        return np.unique(numbers[~self._set[numbers]]).tolist()  # type: ignore[no-any-return]

    def add(self, numbers: list[int], strings: list[bytes]) -> None:
        lengths = np.fromiter(map(len, strings), np.int64, len(strings))
        self.add_joined(numbers, np.frombuffer(b"".join(strings), np.uint8), lengths)

    def add_joined(self, numbers: list[int], joined: npt.NDArray[np.uint8], lengths: Ints) -> None:
        """Strings ``numbers`` given end to end, with their lengths."""
        stops = np.cumsum(lengths)
        self._add_spans(numbers, joined, stops - lengths, stops)

    def add_json(self, numbers: list[int], values: list[Any], *, unquoted: bool = False) -> None:
        """Strings ``numbers``: the JSON of ``values``, rendered by one ``orjson.dumps`` of
        the list (``unquoted``: strings without their quotes)."""
        text = np.frombuffer(orjson.dumps(values), np.uint8)
        starts, stops = json_items(text)
        if unquoted:
            starts, stops = starts + 1, stops - 1
        self._add_spans(numbers, text, starts, stops)

    def _add_spans(
        self, numbers: list[int], text: npt.NDArray[np.uint8], starts: Ints, stops: Ints
    ) -> None:
        """Append ``text``; string ``numbers[k]`` is its bytes starts[k]:stops[k]."""
        used = self._used + len(text)
        if used > len(self.text):
            grown = np.empty(max(2 * len(self.text), used), np.uint8)
            grown[: self._used] = self.text[: self._used]
            self.text = grown
        self.text[self._used : used] = text
        self.start[numbers] = self._used + starts
        self.stop[numbers] = self._used + stops
        self._set[numbers] = True
        self._used = used

    def get(self, number: int) -> bytes:
        return self.text[self.start[number] : self.stop[number]].tobytes()

    @property
    def arrays(self) -> tuple[npt.NDArray[np.uint8], Ints, Ints]:
        return self.text, self.start, self.stop


def _split(template: bytes, markers: list[bytes]) -> list[bytes]:
    """``template`` cut at each marker in turn (each must occur, in this order)."""
    pieces = []
    for marker in markers:
        before, found, template = template.partition(marker)
        if not found:
            raise ValueError(f"{marker!r} not in the rendered template")
        pieces.append(before)
    return [*pieces, template]


def payload_pieces(
    generated_at: str, pool_version: str, model_version: str
) -> tuple[npt.NDArray[np.uint8], Ints, Ints]:
    """The constant text of payloads (``payload.assembly``'s pieces, in its order, as a
    table: text, start, stop), cut out of a mix head, a title, a header and a track rendered
    as everywhere else, so they cannot differ."""
    marker, title_marker, index = "@ID@", "@TITLE@", "7"

    def head(kind: MixKind, title: str, basis: Basis = PERSONAL_BASIS) -> bytes:
        return mix_head(
            format_mix_id(kind, marker),
            kind,
            title,
            generated_at=generated_at,
            pool_version=pool_version,
            model_version=model_version,
            personalised=basis == PERSONAL_BASIS,
            basis=basis,
        )

    # A head's rest (after its title, or a radar's after its id) per basis; what comes
    # before is the same for every basis.
    rests = []
    for basis in BASES:
        rests.append(
            _split(head("mix", title_marker, basis), [marker.encode(), title_marker.encode()])[2]
        )
        rests.append(_split(head("release_radar", RADAR_TITLE, basis), [marker.encode()])[1])
    mix = _split(head("mix", title_marker), [marker.encode(), title_marker.encode()])[:2]
    # A title's pieces, JSON-escaped as the head escapes the whole title.
    escaped = orjson.dumps(mix_title(index, ["@1@", "@2@"]))[1:-1]
    title = _split(escaped, [index.encode(), b"@1@", b"@2@"])
    one = orjson.dumps(mix_title(index, ["@1@"]))[1:-1]
    if one != b"".join((title[0], index.encode(), title[1], b"@1@", title[3])):
        raise ValueError("mix titles are no longer 'prefix index: names suffix'")
    radar = _split(head("release_radar", RADAR_TITLE), [marker.encode()])[:1]
    # The sizes' places are marked with strings too: a number could occur in the pool's name.
    part = {"bytes": "@B@", "tracks": ["@T@"], "artists": ["@A@"], "pools": [pool_version]}
    header = orjson.dumps({"v": PAYLOAD_VERSION, "mixes": part, "release_radar": part})
    header_pieces = _split(header, [b'"@B@"', b'"@T@"', b'"@A@"'] * 2)
    track = _split(
        track_head("@T@", ("@A@",), ("@M@",), "@N@"), [b'"@T@"', b'"@A@"', b'"@M@"', b'"@N@"']
    )
    pieces = [*mix, *title, *radar, *header_pieces, *track, *rests]
    if len(pieces) != PIECES:
        raise AssertionError(f"{len(pieces)} payload pieces, not {PIECES}")
    lengths = np.fromiter(map(len, pieces), np.int64, len(pieces))
    piece_ptr = np.zeros(len(pieces) + 1, np.int64)
    np.cumsum(lengths, out=piece_ptr[1:])
    text = np.frombuffer(b"".join(pieces), np.uint8).copy()
    return text, piece_ptr[:-1].copy(), piece_ptr[1:].copy()


@dataclass(frozen=True)
class EncodedChunk:
    """Per listener of a compiled chunk: the stored payload, or None where the ``Mix`` way
    must make it; and, for the encoded ones, what the rebuild's summary counts of them."""

    payloads: list[bytes | None]
    mixes: Ints
    tracks: Ints
    empty_radars: Bools
    notes: Ints

    def totals(self) -> tuple[int, int, int, int]:
        """Mixes, tracks, empty radars and notes of the encoded listeners."""
        done = np.array([payload is not None for payload in self.payloads], np.bool_)
        return (
            int(self.mixes[done].sum()),
            int(self.tracks[done].sum()),
            int(self.empty_radars[done].sum()),
            int(self.notes[done].sum()),
        )


class PayloadEncoder:
    """Encodes the users of compiled chunks; its caches fill as it goes, so each forked
    worker makes its own."""

    def __init__(self, generator: BatchGenerator, gate: ServingGate) -> None:
        ctx, arrays = generator.context, generator.arrays
        self._ctx = ctx
        self._track_ids = arrays.track_ids
        self._artist_ids = arrays.artist_ids
        self._withheld = np.zeros(len(arrays.track_ids), np.bool_)
        self._withheld[arrays.tracks_of(gate.withheld)] = True
        self._g_ptr, self._g_nbr, self._g_w = arrays.graph
        # Curator links, both ways: their reasons name the curator and note.
        curated = [(a, b) for a, b, source in ctx.graph.edges(data="source") if source == "curated"]
        self._curated = frozenset(curated) | {(b, a) for a, b in curated}
        # An ALS edge's reason, closing its track, around its anchor and score.
        before, between, after = _split(
            orjson.dumps(als_reason("@A@", 0.5).as_dict()), [b'"@A@"', orjson.dumps(0.5)]
        )
        self._als_pieces = (before, between, after + b"}")
        tracks, artists = len(arrays.track_ids), len(arrays.artist_ids)
        # Rendered as met (``_fill``): per track its id's JSON, its title's, and its object up
        # to the reason; per reason number (``reason_ids``) its JSON closing the track; per
        # artist its id's JSON, its name's (for tracks) and its name's without quotes (for
        # mix titles).
        self._titles = TextTable(tracks)
        self._heads = TextTable(tracks)
        self._track_json = TextTable(tracks)
        self._reasons = TextTable(3 * artists + len(self._g_nbr) + 1)
        self._artist_json = TextTable(artists)
        self._name_json = TextTable(artists)
        self._names = TextTable(artists)
        self._generated_at = ctx.now.isoformat()
        pool, model = ctx.catalog.pool_version, ctx.model_version
        self._pieces = payload_pieces(self._generated_at, pool, model)
        self._credits = (arrays.catalog[0], arrays.catalog[1])
        self._buffer = np.empty(1 << 22, np.uint8)  # a chunk's payloads, before compression
        self._versions = (pool, model)
        self._gate = gate

    def warm_up(self, empty: CompiledChunk) -> None:
        """Compile the assembly and the rendering of strings (or load them from numba's
        cache) now, on a chunk of no listener and the catalogue's first track and artist: a
        rebuild does it once before its workers fork, not once in every worker."""
        if empty.users:
            raise ValueError("warm_up takes a chunk of no listener")
        self.encode(empty, [])
        first = np.arange(min(1, len(self._track_ids)))
        self._fill_tracks(first)
        self._fill_names(np.arange(min(1, len(self._artist_ids))))

    def encode(self, chunk: CompiledChunk, bases: Sequence[Basis]) -> EncodedChunk:
        """Each user's payload, or None where the ``Mix`` way must make it; ``bases`` is
        each user's basis (``serving.basis.listener_basis``), one of ``domain.mix.BASES``."""
        if len(bases) != len(chunk.users):
            raise ValueError(f"{len(bases)} bases for {len(chunk.users)} users")
        basis_numbers = np.fromiter(map(BASES.index, bases), np.int64, len(bases))
        self._fill(chunk)
        n = len(chunk.users)
        mix_ptr, radar_ptr = chunk.bounds
        # Where the final filter would remove something: a withheld track, or one the
        # listener excluded (the generators leave those out: a safeguard).
        assembled = np.flatnonzero(~chunk_filter_changes(chunk, self._withheld))
        payloads: list[bytes | None] = [None] * n
        mix_lengths = chunk.mixes[:, MIX_STOP] - chunk.mixes[:, MIX_START]
        radar_lengths = np.diff(radar_ptr)
        counts = EncodedChunk(
            payloads,
            mixes=np.diff(mix_ptr),
            tracks=np.bincount(chunk.mixes[:, MIX_USER], mix_lengths, n).astype(np.int64)
            + radar_lengths,
            empty_radars=radar_lengths == 0,
            notes=chunk.notes + (radar_lengths == 0),
        )
        # Assembled even for no listener: that is how ``warm_up`` compiles it.
        self._buffer, offsets = assemble_payloads(
            self._buffer,
            assembled,
            chunk.mixes,
            chunk.tracks,
            chunk.radar,
            chunk.track_reasons,
            chunk.radar_reasons,
            chunk.members,
            (
                self._heads.arrays,
                self._reasons.arrays,
                self._track_json.arrays,
                self._artist_json.arrays,
                self._names.arrays,
                self._pieces,
            ),
            *self._digests(chunk, assembled),
            basis_numbers,
        )
        view = memoryview(self._buffer)
        for k, position in enumerate(assembled.tolist()):
            payloads[position] = compress_payload(view[offsets[k] : offsets[k + 1]])
        return counts

    def _digests(
        self, chunk: CompiledChunk, users: Ints
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """The id digits of the mixes (per mix row) and radars (per user) of ``users``."""
        pool, model = self._versions
        ids = chunk.users
        mix_keys = [""] * len(chunk.mixes)
        radar_keys = [""] * len(chunk.users)
        mix_ptr = chunk.bounds[0]
        for position in users.tolist():
            user_id = ids[position].user_id
            radar_keys[position] = user_id
            for index, row in enumerate(range(mix_ptr[position], mix_ptr[position + 1]), 1):
                mix_keys[row] = f"{user_id}:{index}"

        def digits(kind: str, keys: list[str]) -> npt.NDArray[np.uint8]:
            blank = "0" * DIGEST
            text = "".join(mix_digest(kind, key, pool, model) if key else blank for key in keys)
            return np.frombuffer(text.encode(), np.uint8).reshape(len(keys), DIGEST)

        return digits("mix", mix_keys), digits("release_radar", radar_keys)

    def render_catalogue(self) -> None:
        """Render every track's and artist's strings now. A rebuild does it once, before its
        workers fork: each would otherwise render them all again, and reading the catalogue's
        objects (their reference counts) copies their memory pages into the worker."""
        self._fill_tracks(np.arange(len(self._track_ids)))
        self._fill_names(np.arange(len(self._artist_ids)))

    def _fill(self, chunk: CompiledChunk) -> None:
        """Render the strings of the chunk met for the first time."""
        new = self._reasons.missing(np.concatenate((chunk.track_reasons, chunk.radar_reasons)))
        if new:
            self._reasons.add(new, self._render_reasons(new))
        self._fill_tracks(np.concatenate((chunk.tracks[:, TRACK], chunk.radar[:, RADAR_TRACK])))
        anchors = chunk.mixes[:, [MIX_ANCHOR1, MIX_ANCHOR2]].ravel()
        self._fill_names(anchors[anchors >= 0])

    def _fill_tracks(self, tracks: Ints) -> None:
        """The id, title and head (up to the reason) of tracks not rendered yet, and the ids
        of every artist they credit."""
        new = self._heads.missing(tracks)
        if not new:
            return
        t_ptr, t_art = self._credits
        numbers = np.array(new, np.int64)
        credits = np.concatenate([t_art[t_ptr[t] : t_ptr[t + 1]] for t in new])
        artists = self._artist_json.missing(credits)
        if artists:
            self._artist_json.add_json(artists, [self._artist_ids[a] for a in artists])
            name = self._ctx.catalog.name
            self._name_json.add_json(artists, [name(self._artist_ids[a]) for a in artists])
        found = [self._ctx.catalog.tracks[self._track_ids[t]] for t in new]
        self._titles.add_json(new, [t.title for t in found])
        self._track_json.add_json(new, [t.track_id for t in found])
        text = (
            self._track_json.arrays,
            self._titles.arrays,
            self._artist_json.arrays,
            self._name_json.arrays,
            self._pieces,
        )
        heads, sizes = track_heads(numbers, text, self._credits)
        self._heads.add_joined(new, heads, sizes)

    def _fill_names(self, artists: Ints) -> None:
        """The names (JSON, without quotes) of artists not rendered yet, for mix titles."""
        new = self._names.missing(artists)
        if new:
            name = self._ctx.catalog.name
            self._names.add_json(new, [name(self._artist_ids[a]) for a in new], unquoted=True)

    def _render_reasons(self, numbers: list[int]) -> list[bytes]:
        """The JSON (closing its track) of the reasons ``batch_kernel.reason_ids`` numbers
        ``numbers``, as ``Reason.as_dict``. A rebuild meets a good part of the graph's edges,
        so an ALS edge's reason is put together from its anchor and score."""
        ids, artists = self._artist_ids, len(self._artist_ids)
        edges = np.asarray(numbers, np.int64) - 3 * artists
        owners = (np.searchsorted(self._g_ptr, edges, side="right") - 1).tolist()
        before, between, after = self._als_pieces
        dumps, weights, g_nbr = orjson.dumps, self._g_w, self._g_nbr
        rendered = []
        for number, edge, owner in zip(numbers, edges.tolist(), owners, strict=True):
            if number < 3 * artists:
                artist, kind = ids[number // 3], number % 3
                if kind == SEED:
                    reason = popular_reason(artist).as_dict()
                else:
                    basis = "history" if kind == HISTORY else "followed_artist"
                    reason = {"type": basis, "via": {"artist_id": artist}}
            elif edge == len(self._g_nbr):
                reason = self._ctx.edge_reason("", "").as_dict()  # no anchor linked
            else:
                anchor, artist = ids[owner], ids[g_nbr[edge]]
                if (anchor, artist) in self._curated:
                    reason = self._ctx.edge_reason(anchor, artist).as_dict()
                else:
                    score = dumps(als_score(float(weights[edge])))
                    rendered.append(before + dumps(anchor) + between + score + after)
                    continue
            rendered.append(orjson.dumps(reason) + b"}")
        return rendered
