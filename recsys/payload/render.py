"""Mixes rendered as the API answers them, byte for byte ``orjson.dumps(mix.as_dict())``.

A rebuild renders every listener's mixes: tens of millions of track entries drawn from a
catalogue a thousand times smaller. Each track's JSON (its id, artists and title) is made once
per process and reused, and each reason once per mix; only the joins are paid per listener.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from recsys.domain.mix import Mix, MixTrack, Reason

_REASON_KEY = b',"reason":'


def track_head(
    track_id: str, artist_ids: tuple[str, ...], artist_names: tuple[str, ...], title: str
) -> bytes:
    """A track's JSON object up to its reason: append the reason's JSON and ``}``."""
    fields = {
        "track_id": track_id,
        "artist_ids": list(artist_ids),
        "artist_names": list(artist_names),
        "title": title,
    }
    return orjson.dumps(fields)[:-1] + _REASON_KEY


def mix_head(
    mix_id: str,
    kind: str,
    title: str,
    *,
    generated_at: str,
    pool_version: str,
    model_version: str,
    personalised: bool,
    basis: str,
) -> bytes:
    """A mix's JSON object up to its tracks: append the tracks joined by ``,`` and ``]}``."""
    fields = {
        "mix_id": mix_id,
        "kind": kind,
        "title": title,
        "generated_at": generated_at,
        "pool_version": pool_version,
        "model_version": model_version,
        "personalised": personalised,
        "basis": basis,
    }
    return orjson.dumps(fields)[:-1] + b',"tracks":['


class MixRenderer:
    """Renders mixes from cached per-track parts; at most ``max_tracks`` tracks and as many
    reasons are kept (a cache starts over when full, so memory stays bounded on any
    catalogue). A reason is assumed not to change once made (generators never edit one)."""

    def __init__(self, max_tracks: int = 200_000) -> None:
        self._max_tracks = max_tracks
        # track id -> (artists, their names, title, the track's JSON object up to its reason)
        self._tracks: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, bytes]] = {}
        # id of a reason -> (the reason, its JSON). Generators share reason objects (one per
        # anchor in a mix, one per graph edge in a rebuild); holding the object keeps its id
        # from being reused by another while it is cached.
        self._reasons: dict[int, tuple[Reason, bytes]] = {}

    def _head(self, track: MixTrack) -> bytes:
        cached = self._tracks.get(track.track_id)
        if cached is not None and cached[:3] == (track.artist_ids, track.artist_names, track.title):
            return cached[3]
        head = track_head(track.track_id, track.artist_ids, track.artist_names, track.title)
        if len(self._tracks) >= self._max_tracks:
            self._tracks.clear()
        self._tracks[track.track_id] = (track.artist_ids, track.artist_names, track.title, head)
        return head

    def _reason(self, reason: Reason) -> bytes:
        cached = self._reasons.get(id(reason))
        if cached is not None:
            return cached[1]
        rendered = orjson.dumps(reason.as_dict())
        if len(self._reasons) >= self._max_tracks:
            self._reasons.clear()
        self._reasons[id(reason)] = (reason, rendered)
        return rendered

    def mix(self, mix: Mix) -> bytes:
        """``orjson.dumps(mix.as_dict())``."""
        parts = [self._head(t) + self._reason(t.reason) + b"}" for t in mix.tracks]
        head = mix_head(
            mix.mix_id,
            mix.kind,
            mix.title,
            generated_at=mix.generated_at.isoformat(),
            pool_version=mix.pool_version,
            model_version=mix.model_version,
            personalised=mix.personalised,
            basis=mix.basis,
        )
        return head + b",".join(parts) + b"]}"

    def mixes(self, mixes: Iterable[Mix]) -> bytes:
        """``orjson.dumps([m.as_dict() for m in mixes])``."""
        return b"[" + b",".join(self.mix(m) for m in mixes) + b"]"
