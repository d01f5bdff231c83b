"""Stored payloads straight from the compiled generators' rows: the rebuild's common case.

``encode_user(final_filter(mix) ...)`` over ``Mix`` values costs more than generating them:
an object per track, a filter pass, a render. For a listener whose output holds no withheld
track (nearly all: the generators draw from the pool, and the final filter would remove
nothing), this writes the same bytes from the rows, with each track's and each reason's JSON
made once per process; listeners given the shared non-personalised mixes get them rendered
once, under their own mix ids. A listener with a withheld track, or with exclusions of their
own, goes the ``Mix`` way and its final filter. Tests hold both ways to the same payloads,
byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import add
from typing import Any, Literal

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
    TRACK,
)
from recsys.generators.context import anonymous
from recsys.generators.result import mix_id
from recsys.mix import Mix, MixKind
from recsys.mix_json import MixRenderer, mix_head, track_head
from recsys.store.base import pack_payload, part_header

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _Shared:
    """Mixes shared by every listener without personalisation, rendered once: each listener
    gets them under their own mix ids (``result.for_listener``)."""

    mixes: tuple[tuple[str, int, bytes], ...]  # per mix: title, tracks, JSON after the head
    tracks: list[str]
    artists: list[str]
    notes: int


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
        ctx, arrays = generator.context, generator.arrays
        self._ctx = ctx
        self._track_ids = arrays.track_ids
        self._artist_ids = arrays.artist_ids
        self._withheld = np.zeros(len(arrays.track_ids), np.bool_)
        self._withheld[arrays.tracks_of(gate.withheld)] = True
        # Per track (pool number): its JSON up to the reason; per
        # reason number (``reason_ids``): its JSON closing the track. Filled as met (``_fill``).
        self._heads: list[bytes] = [b""] * len(arrays.track_ids)
        self._rendered_tracks = np.zeros(len(arrays.track_ids), np.bool_)
        self._g_ptr, self._g_nbr = arrays.graph[0], arrays.graph[1]
        reasons = 2 * len(arrays.artist_ids) + len(self._g_nbr) + 1
        self._reasons: list[bytes] = [b""] * reasons
        self._rendered_reasons = np.zeros(reasons, np.bool_)
        self._generated_at = ctx.now.isoformat()
        self._gate = gate
        # The shared non-personalised mixes and radar (False: not rendered yet).
        self._mixes_shared: _Shared | Literal[False] | None = False
        self._radar_shared: _Shared | Literal[False] | None = False

    def encode(self, chunk: CompiledChunk) -> list[Encoded | None]:
        """Each user's payload, or None where the ``Mix`` way must make it."""
        self._fill(chunk)
        left = chunk.users_with(self._withheld).tolist()
        encoded: list[Encoded | None] = []
        for position in range(len(chunk.users)):
            mix_rows, radar_rows = chunk.rows_of(position)
            exclusions = chunk.users[position].exclusions
            if (
                left[position]
                or exclusions.artists  # the final filter checks their exclusions too
                or exclusions.tracks
                or not (len(mix_rows) or self._shared_mixes() is not None)
            ):
                encoded.append(None)
            else:
                encoded.append(self._user(chunk, position, mix_rows, radar_rows))
        return encoded

    def _fill(self, chunk: CompiledChunk) -> None:
        """Render the tracks and reasons of the chunk met for the first time; afterwards every
        lookup of the chunk is a list index."""
        tracks = np.concatenate((chunk.tracks[:, TRACK], chunk.radar[:, RADAR_TRACK]))
        for track in np.unique(tracks[~self._rendered_tracks[tracks]]).tolist():
            found = self._ctx.catalog.tracks[self._track_ids[track]]
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

    def _shared_mixes(self) -> _Shared | None:
        """The non-personalised mixes (``personal_mixes.generate_non_personalised``): what a
        listener without personalisation gets, and one whose history makes no mix of their
        own. None when the final filter would change them (the ``Mix`` way makes those)."""
        if self._mixes_shared is False:
            result = personal_mixes.generate_non_personalised(self._ctx, anonymous(""))
            self._mixes_shared = self._render_shared(result.mixes, len(result.notes))
        return self._mixes_shared

    def _shared_radar(self) -> _Shared | None:
        """The non-personalised Release Radar (``release_radar.generate``), as above."""
        if self._radar_shared is False:
            result = release_radar.generate(self._ctx, anonymous(""))
            self._radar_shared = self._render_shared(result.mixes, len(result.notes))
        return self._radar_shared

    def _render_shared(self, mixes: tuple[Mix, ...], notes: int) -> _Shared | None:
        held = {t.track_id for m in mixes for t in m.tracks}
        if not mixes or not self._gate.allows_all(held):
            return None
        renderer, tails = MixRenderer(), []
        for mix in mixes:
            head = mix_head(
                mix.mix_id,
                mix.kind,
                mix.title,
                generated_at=self._generated_at,
                pool_version=mix.pool_version,
                model_version=mix.model_version,
            )
            tails.append((mix.title, len(mix.tracks), renderer.mix(mix)[len(head) :]))
        artists = sorted({a for m in mixes for t in m.tracks for a in t.artist_ids})
        return _Shared(tuple(tails), sorted(held), artists, notes)

    def _listeners_copy(self, shared: _Shared, kind: MixKind, keys: list[str]) -> list[bytes]:
        """The shared mixes rendered under this listener's mix ids (one key per mix)."""
        ctx = self._ctx
        return [
            mix_head(
                mix_id(ctx, kind, key),
                kind,
                title,
                generated_at=self._generated_at,
                pool_version=ctx.catalog.pool_version,
                model_version=ctx.model_version,
            )
            + tail
            for key, (title, _length, tail) in zip(keys, shared.mixes, strict=True)
        ]

    def encode_anonymous(self, user_id: str) -> Encoded | None:
        """A listener without personalisation and without exclusions: the shared mixes and
        Release Radar under their ids. None when the ``Mix`` way must make them."""
        mixes, radar = self._shared_mixes(), self._shared_radar()
        if mixes is None or radar is None:
            return None
        keys = [f"{user_id}:{index}" for index in range(1, len(mixes.mixes) + 1)]
        mixes_raw = b"[" + b",".join(self._listeners_copy(mixes, "mix", keys)) + b"]"
        (radar_raw,) = self._listeners_copy(radar, "release_radar", [user_id])
        pool = [self._ctx.catalog.pool_version]
        payload = pack_payload(
            mixes_raw,
            part_header(mixes_raw, mixes.tracks, mixes.artists, pool),
            radar_raw,
            part_header(radar_raw, radar.tracks, radar.artists, pool),
        )
        radar_tracks = radar.mixes[0][1]
        return Encoded(
            payload,
            mixes=len(mixes.mixes),
            tracks=sum(m[1] for m in mixes.mixes) + radar_tracks,
            empty_radar=not radar_tracks,
            notes=mixes.notes + radar.notes,
        )

    def _user(
        self, chunk: CompiledChunk, position: int, mix_rows: Ints, radar_rows: Ints
    ) -> Encoded:
        ctx, user = self._ctx, chunk.users[position]
        pool, model = ctx.catalog.pool_version, ctx.model_version
        artist_ids = self._artist_ids
        head_of, reason_of = self._heads.__getitem__, self._reasons.__getitem__
        rendered, tracks_in_mixes, notes = [], 0, int(chunk.notes[position])
        fallback = None if len(mix_rows) else self._shared_mixes()
        if fallback is not None:
            notes += 1  # "personal history too thin for a mix" (the shared mixes' own: none)
            keys = [f"{user.user_id}:{i}" for i in range(1, len(fallback.mixes) + 1)]
            rendered = self._listeners_copy(fallback, "mix", keys)
            tracks_in_mixes = sum(m[1] for m in fallback.mixes)
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
        radar_reasons = chunk.radar_reasons_of(position)
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
            mixes_header = self._part(mixes_raw, chunk, position, 0)
        payload = pack_payload(
            mixes_raw, mixes_header, radar_raw, self._part(radar_raw, chunk, position, 2)
        )
        empty_radar = not len(radar_rows)
        return Encoded(
            payload,
            mixes=len(rendered),
            tracks=tracks_in_mixes + len(radar_rows),
            empty_radar=empty_radar,
            notes=notes + int(empty_radar),
        )

    def _part(self, raw: bytes, chunk: CompiledChunk, position: int, part: int) -> dict[str, Any]:
        """``store.base._part`` of the user's mixes (part 0) or radar (part 2), from the
        chunk's distinct tracks and artists (numbers sort as ids do)."""
        tracks = list(map(self._track_ids.__getitem__, chunk.members_of(position, part)))
        artists = list(map(self._artist_ids.__getitem__, chunk.members_of(position, part + 1)))
        return part_header(raw, tracks, artists, [self._ctx.catalog.pool_version])
