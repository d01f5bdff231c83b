"""Stored payloads straight from the compiled generators' rows: the rebuild's common case.

``encode_user(final_filter(mix) ...)`` over ``Mix`` values costs more than generating them:
an object per track, a filter pass, a render. For a listener whose output holds no withheld
track (nearly all: the generators draw from the pool, and the final filter would remove
nothing), this writes the same bytes from the rows, with each track's and each reason's JSON
made once per process. Anyone else, a listener with a withheld track or without a personal
mix, goes the ``Mix`` way. A test holds both ways to the same payload, byte for byte.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import orjson

from recsys.final_filter import ServingGate
from recsys.generators import personal_mixes, release_radar
from recsys.generators.batch import BatchGenerator, CompiledChunk
from recsys.generators.batch_kernel import (
    MIX_ANCHOR1,
    MIX_ANCHOR2,
    MIX_ANCHORS,
    MIX_START,
    MIX_STOP,
    RADAR_ARTIST,
    RADAR_CLOSENESS,
    RADAR_TRACK,
    RADAR_VIA,
    TRACK,
)
from recsys.generators.context import anonymous
from recsys.generators.result import mix_id
from recsys.mix_json import MixRenderer, mix_head, track_head
from recsys.store.base import pack_payload, part_header

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _Fallback:
    mixes: tuple[tuple[str, int, bytes], ...]  # per mix: title, tracks, JSON after the head
    tracks: list[str]
    artists: list[str]


@dataclass(frozen=True, slots=True)
class Encoded:
    """A listener's stored payload and what the rebuild's summary counts of it."""

    payload: bytes
    mixes: int
    tracks: int
    empty_radar: bool
    notes: int


class PayloadEncoder:
    """Encodes the users of compiled chunks; its caches fill as it goes, so each forked
    worker makes its own."""

    def __init__(self, generator: BatchGenerator, gate: ServingGate) -> None:
        self._generator = generator
        ctx, arrays = generator.context, generator.arrays
        self._ctx = ctx
        self._track_ids = arrays.track_ids
        self._artist_ids = arrays.artist_ids
        self._withheld = np.zeros(len(arrays.track_ids), np.bool_)
        for track_id in gate.withheld:
            index = bisect.bisect_left(arrays.track_ids, track_id)
            if index < len(arrays.track_ids) and arrays.track_ids[index] == track_id:
                self._withheld[index] = True
        self._heads: list[bytes | None] = [None] * len(arrays.track_ids)  # filled as met
        # The artists each track credits, filled with its head (a part's tracks all have one).
        self._credits: list[tuple[str, ...]] = [()] * len(arrays.track_ids)
        self._reasons: dict[tuple[int, int, int], bytes] = {}
        self._generated_at = ctx.now.isoformat()
        self._gate = gate
        self._fallback_parts: _Fallback | Literal[False] | None = False  # False: not made yet

    def encode(self, chunk: CompiledChunk) -> list[Encoded | None]:
        """Each user's payload, or None where the ``Mix`` way must make it."""
        withheld = self._withheld
        return [
            self._user(chunk, position, mix_rows, radar_rows)
            if (len(mix_rows) or self._fallback() is not None)
            and not withheld[_tracks_of(chunk.tracks, mix_rows)].any()
            and not withheld[radar_rows[:, RADAR_TRACK]].any()
            else None
            for position, (mix_rows, radar_rows) in (
                (p, chunk.rows_of(p)) for p in range(len(chunk.users))
            )
        ]

    def _fallback(self) -> _Fallback | None:
        """The non-personalised mixes of a listener whose history makes no mix of their own
        (``personal_mixes.generate``), rendered once: the same for every such listener but
        for the mix ids. None when the final filter would change them (the ``Mix`` way)."""
        if self._fallback_parts is False:
            ctx = self._ctx
            mixes = personal_mixes.generate_non_personalised(ctx, anonymous("")).mixes
            held = {t.track_id for m in mixes for t in m.tracks}
            if not mixes or not self._gate.allows_all(held):
                self._fallback_parts = None
            else:
                renderer = MixRenderer()
                tails = []
                for mix in mixes:
                    full = renderer.mix(mix)
                    head = mix_head(
                        mix.mix_id,
                        mix.kind,
                        mix.title,
                        generated_at=self._generated_at,
                        pool_version=mix.pool_version,
                        model_version=mix.model_version,
                    )
                    tails.append((mix.title, len(mix.tracks), full[len(head) :]))
                tracks = sorted(held)
                artists = sorted({a for m in mixes for t in m.tracks for a in t.artist_ids})
                self._fallback_parts = _Fallback(tuple(tails), tracks, artists)
        return self._fallback_parts

    def _user(
        self, chunk: CompiledChunk, position: int, mix_rows: Ints, radar_rows: Ints
    ) -> Encoded:
        ctx, user = self._ctx, chunk.users[position]
        pool, model = ctx.catalog.pool_version, ctx.model_version
        artist_ids, follows = self._artist_ids, user.follows
        heads, head_of, reason_of = self._heads, self._fill_head, self._reason
        rendered, tracks_in_mixes, notes = [], 0, int(chunk.notes[position])
        fallback = None if len(mix_rows) else self._fallback()
        if fallback is not None:
            notes += 1  # "personal history too thin for a mix"
            for index, (title, length, tail) in enumerate(fallback.mixes, start=1):
                head = mix_head(
                    mix_id(ctx, "mix", f"{user.user_id}:{index}"),
                    "mix",
                    title,
                    generated_at=self._generated_at,
                    pool_version=pool,
                    model_version=model,
                )
                rendered.append(head + tail)
                tracks_in_mixes += length
        for index, row in enumerate(mix_rows.tolist(), start=1):
            anchors = [artist_ids[row[MIX_ANCHOR1]]]
            if row[MIX_ANCHORS] > 1:
                anchors.append(artist_ids[row[MIX_ANCHOR2]])
            head = mix_head(
                mix_id(ctx, "mix", f"{user.user_id}:{index}"),
                "mix",
                personal_mixes.title(index, anchors, ctx),
                generated_at=self._generated_at,
                pool_version=pool,
                model_version=model,
            )
            familiar: dict[int, bytes] = {}  # anchor -> its reason, in this mix
            parts = []
            rows = chunk.tracks[row[MIX_START] : row[MIX_STOP]].tolist()
            for track, via, neighbour, slot in rows:  # columns TRACK, VIA, NEIGHBOUR, SLOT
                if slot:
                    reason = reason_of((1, via, neighbour))
                else:
                    reason = familiar.get(via)  # type: ignore[assignment]
                    if reason is None:
                        followed = int(artist_ids[via] in follows)
                        reason = familiar[via] = reason_of((0, followed, via))
                parts.append((heads[track] or head_of(track)) + reason)
            tracks_in_mixes += len(parts)
            rendered.append(head + b",".join(parts) + b"]}")
        mixes_raw = b"[" + b",".join(rendered) + b"]"
        radar_parts = []
        for track, artist, closeness, via in radar_rows[
            :, [RADAR_TRACK, RADAR_ARTIST, RADAR_CLOSENESS, RADAR_VIA]
        ].tolist():
            key = (2, closeness, artist) if closeness < 2 else (3, via, artist)
            radar_parts.append((heads[track] or head_of(track)) + reason_of(key))
        radar_head = mix_head(
            mix_id(ctx, "release_radar", user.user_id),
            "release_radar",
            release_radar.TITLE,
            generated_at=self._generated_at,
            pool_version=pool,
            model_version=model,
        )
        radar_raw = radar_head + b",".join(radar_parts) + b"]}"
        if fallback is not None:
            mixes_header = part_header(mixes_raw, fallback.tracks, fallback.artists, [pool])
        else:
            mixes_header = self._part(mixes_raw, _tracks_of(chunk.tracks, mix_rows))
        payload = pack_payload(
            mixes_raw,
            mixes_header,
            radar_raw,
            self._part(radar_raw, radar_rows[:, RADAR_TRACK]),
        )
        empty_radar = not radar_parts
        return Encoded(
            payload,
            mixes=len(rendered),
            tracks=tracks_in_mixes + len(radar_parts),
            empty_radar=empty_radar,
            notes=notes + int(empty_radar),
        )

    def _part(self, raw: bytes, tracks: Ints) -> dict[str, object]:
        """``store.base._part`` of rendered bytes whose tracks (pool numbers) are ``tracks``:
        numbers sort as ids do."""
        numbers = np.unique(tracks).tolist()
        credits = self._credits
        artists = sorted({a for t in numbers for a in credits[t]})
        ids = [self._track_ids[t] for t in numbers]
        return part_header(raw, ids, artists, [self._ctx.catalog.pool_version])

    def _fill_head(self, track: int) -> bytes:
        found = self._ctx.catalog.tracks[self._track_ids[track]]
        self._credits[track] = found.artist_ids
        head = self._heads[track] = track_head(found.track_id, found.artist_ids, found.title)
        return head

    def _reason(self, key: tuple[int, int, int]) -> bytes:
        """A reason's JSON, closing its track's object: (0, followed, anchor) a familiar
        track's, (1, via, neighbour) a discovery's, (2, closeness, artist) a radar track of
        the listener's own artists, (3, via, neighbour) a radar track of a neighbour (via -1:
        no anchor linked)."""
        reason = self._reasons.get(key)
        if reason is None:
            kind, first, second = key
            ids, ctx = self._artist_ids, self._ctx
            if kind == 0:
                basis = "followed_artist" if first else "history"
                value = {"type": basis, "via": {"artist_id": ids[second]}}
            elif kind == 2:
                basis = "followed_artist" if first == 0 else "history"
                value = {"type": basis, "via": {"artist_id": ids[second]}}
            else:
                via = ids[first] if first >= 0 else ""
                value = ctx.edge_reason(via, ids[second]).as_dict()
            reason = self._reasons[key] = orjson.dumps(value) + b"}"
        return reason


def _tracks_of(tracks: Ints, mix_rows: Ints) -> Ints:
    """The pool numbers of every track of the given mixes (rows of one user, contiguous)."""
    if not len(mix_rows):
        return np.zeros(0, np.int64)
    return tracks[int(mix_rows[0, MIX_START]) : int(mix_rows[-1, MIX_STOP]), TRACK]
