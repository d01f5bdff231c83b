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
from operator import add
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
    RADAR_TRACK,
    RADAR_USER,
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
        # Per track (pool number): its JSON up to the reason, and the artists it credits; per
        # reason number (``reason_ids``): its JSON closing the track. Filled as met (``_fill``).
        self._heads: list[bytes] = [b""] * len(arrays.track_ids)
        self._credits: list[tuple[str, ...]] = [()] * len(arrays.track_ids)
        self._rendered_tracks = np.zeros(len(arrays.track_ids), np.bool_)
        self._g_ptr, self._g_nbr = arrays.graph[0], arrays.graph[1]
        reasons = 2 * len(arrays.artist_ids) + len(self._g_nbr) + 1
        self._reasons: list[bytes] = [b""] * reasons
        self._rendered_reasons = np.zeros(reasons, np.bool_)
        self._generated_at = ctx.now.isoformat()
        self._gate = gate
        self._fallback_parts: _Fallback | Literal[False] | None = False  # False: not made yet

    def encode(self, chunk: CompiledChunk) -> list[Encoded | None]:
        """Each user's payload, or None where the ``Mix`` way must make it."""
        self._fill(chunk)
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

    def _fill(self, chunk: CompiledChunk) -> None:
        """Render the tracks and reasons of the chunk met for the first time; afterwards every
        lookup of the chunk is a list index."""
        tracks = np.concatenate((chunk.tracks[:, TRACK], chunk.radar[:, RADAR_TRACK]))
        for track in np.unique(tracks[~self._rendered_tracks[tracks]]).tolist():
            found = self._ctx.catalog.tracks[self._track_ids[track]]
            self._credits[track] = found.artist_ids
            self._heads[track] = track_head(found.track_id, found.artist_ids, found.title)
        self._rendered_tracks[tracks] = True
        reasons = np.concatenate((chunk.track_reasons, chunk.radar_reasons))
        for reason in np.unique(reasons[~self._rendered_reasons[reasons]]).tolist():
            self._reasons[reason] = orjson.dumps(self._reason(reason)) + b"}"
        self._rendered_reasons[reasons] = True

    def _reason(self, number: int) -> dict[str, object]:
        """The reason ``batch_kernel.reason_ids`` numbers ``number``, as ``Reason.as_dict``."""
        ids, artists = self._artist_ids, len(self._artist_ids)
        if number < 2 * artists:
            basis = "followed_artist" if number % 2 else "history"
            return {"type": basis, "via": {"artist_id": ids[number // 2]}}
        edge = number - 2 * artists
        if edge == len(self._g_nbr):
            return self._ctx.edge_reason("", "").as_dict()  # no anchor linked
        owner = int(np.searchsorted(self._g_ptr, edge, side="right")) - 1
        return self._ctx.edge_reason(ids[owner], ids[int(self._g_nbr[edge])]).as_dict()

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
        artist_ids = self._artist_ids
        head_of, reason_of = self._heads.__getitem__, self._reasons.__getitem__
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
            start, stop = row[MIX_START], row[MIX_STOP]
            tracks = map(head_of, chunk.tracks[start:stop, TRACK].tolist())
            reasons = map(reason_of, chunk.track_reasons[start:stop].tolist())
            rendered.append(head + b",".join(map(add, tracks, reasons)) + b"]}")
            tracks_in_mixes += stop - start
        mixes_raw = b"[" + b",".join(rendered) + b"]"
        radar_tracks = radar_rows[:, RADAR_TRACK]
        first = int(np.searchsorted(chunk.radar[:, RADAR_USER], position))
        radar_reasons = chunk.radar_reasons[first : first + len(radar_rows)]
        radar_head = mix_head(
            mix_id(ctx, "release_radar", user.user_id),
            "release_radar",
            release_radar.TITLE,
            generated_at=self._generated_at,
            pool_version=pool,
            model_version=model,
        )
        parts = map(
            add, map(head_of, radar_tracks.tolist()), map(reason_of, radar_reasons.tolist())
        )
        radar_raw = radar_head + b",".join(parts) + b"]}"
        if fallback is not None:
            mixes_header = part_header(mixes_raw, fallback.tracks, fallback.artists, [pool])
        else:
            mixes_header = self._part(mixes_raw, _tracks_of(chunk.tracks, mix_rows))
        payload = pack_payload(
            mixes_raw, mixes_header, radar_raw, self._part(radar_raw, radar_tracks)
        )
        empty_radar = not len(radar_rows)
        return Encoded(
            payload,
            mixes=len(rendered),
            tracks=tracks_in_mixes + len(radar_rows),
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


def _tracks_of(tracks: Ints, mix_rows: Ints) -> Ints:
    """The pool numbers of every track of the given mixes (rows of one user, contiguous)."""
    if not len(mix_rows):
        return np.zeros(0, np.int64)
    return tracks[int(mix_rows[0, MIX_START]) : int(mix_rows[-1, MIX_STOP]), TRACK]
