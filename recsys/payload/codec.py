"""The stored payload format: how a user's mixes and Release Radar are kept in a store, and
read back.

A user's stored payload is their mixes as the API renders them (``recsys.payload.render``),
compressed, behind a header naming their tracks, artists and pool. A read serves them as
stored only when they were made from the current pool and nothing in them is withheld now or
excluded by the listener; otherwise titles and artists are filled in again from the current
pool and the final filter runs, so a stored mix never shows metadata or tracks the current pool
does not vouch for. The rebuild writes the same bytes from compiled rows
(``recsys.payload.encoder`` and ``recsys.payload.assembly``), held to ``encode_user`` byte for
byte by the tests. Stores (``recsys.store``) only keep and return the bytes.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import zstandard

from recsys.domain.mix import Mix
from recsys.payload.render import MixRenderer

# 3: mixes say whether they are personalised and on what basis, tracks name their artists.
# A read serves older payloads through the final filter's way, which fills both in.
PAYLOAD_VERSION = 3
_HEADER = struct.Struct(">I")  # length of the header that precedes the rendered parts


@dataclass(frozen=True, slots=True)
class StoredPart:
    """One part of a stored user (their mixes, or their Release Radar) as the API answers
    it, with what a read must check before serving it as it is."""

    raw: bytes  # JSON: a list of mixes, or one mix
    track_ids: tuple[str, ...]
    artist_ids: frozenset[str]
    pool_versions: frozenset[str]

    def parsed(self) -> Any:
        return orjson.loads(self.raw)


@dataclass(frozen=True, slots=True)
class StoredUser:
    version: int
    mixes: StoredPart
    release_radar: StoredPart | None


# Each process renders with its own cache of track parts (forked workers each fill theirs).
_RENDERER = MixRenderer()


def part_header(
    raw: bytes, track_ids: list[str], artist_ids: list[str], pool_versions: list[str]
) -> dict[str, Any]:
    """What a read checks of one rendered part: its size, and its tracks, artists and pools,
    each sorted."""
    return {"bytes": len(raw), "tracks": track_ids, "artists": artist_ids, "pools": pool_versions}


def _part(raw: bytes, mixes: list[Mix]) -> tuple[bytes, dict[str, Any]]:
    tracks = [t for m in mixes for t in m.tracks]
    return raw, part_header(
        raw,
        sorted({t.track_id for t in tracks}),
        sorted({a for t in tracks for a in t.artist_ids}),
        sorted({m.pool_version for m in mixes}),
    )


# zstd frames start with these bytes; zlib streams (payloads written before) never do.
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CODECS = threading.local()  # zstd (de)compressors are not safe to share between threads


def _zstd() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    codecs = getattr(_CODECS, "zstd", None)
    if codecs is None:
        codecs = _CODECS.zstd = (zstandard.ZstdCompressor(level=1), zstandard.ZstdDecompressor())
    return codecs


def pack_payload(
    mixes_raw: bytes,
    mixes_header: dict[str, Any],
    radar_raw: bytes,
    radar_header: dict[str, Any] | None,
) -> bytes:
    """The stored payload of rendered parts and their headers (``part_header``), compressed
    with zstd: at level 1 it packs a listener's mixes smaller than zlib's fastest level, at
    twice its speed both ways, and a rebuild compresses every listener."""
    header = {"v": PAYLOAD_VERSION, "mixes": mixes_header, "release_radar": radar_header}
    head = orjson.dumps(header)
    return compress_payload(_HEADER.pack(len(head)) + head + mixes_raw + radar_raw)


def compress_payload(raw: bytes | memoryview) -> bytes:
    """A payload's bytes (header length, header, parts) as stored."""
    return _zstd()[0].compress(raw)  # type: ignore[no-any-return]


def encode_user(mixes: Iterable[Mix], release_radar: Mix | None) -> bytes:
    """A user's mixes and Release Radar rendered as the API answers them (``Mix.as_dict``),
    behind a small header naming their tracks, artists and pool: a read that finds nothing
    to remove returns the rendered bytes as they are, without parsing or rebuilding them."""
    mixes = list(mixes)
    mixes_raw, mixes_header = _part(_RENDERER.mixes(mixes), mixes)
    radar_raw, radar_header = b"", None
    if release_radar is not None:
        radar_raw, radar_header = _part(_RENDERER.mix(release_radar), [release_radar])
    return pack_payload(mixes_raw, mixes_header, radar_raw, radar_header)


def decompress_payload(payload: bytes) -> bytes:
    """A stored payload's bytes: zstd, or zlib for payloads written before zstd."""
    if payload[:4] == _ZSTD_MAGIC:
        return _zstd()[1].decompress(payload)
    return zlib.decompress(payload)


def read_payload(payload: bytes) -> StoredUser:
    """The stored user. Payloads of version 1 (one JSON document, tracks as ``[track_id,
    reason type, via]``, written before version 2) are read with empty titles and artists,
    which the read path fills in from the current pool."""
    data = decompress_payload(payload)
    if data[:1] == b"{":
        return _read_first_format(orjson.loads(data))
    (length,) = _HEADER.unpack_from(data)
    offset = _HEADER.size + length
    header = orjson.loads(data[_HEADER.size : offset])

    def part(meta: dict[str, Any]) -> StoredPart:
        nonlocal offset
        raw = data[offset : offset + meta["bytes"]]
        offset += meta["bytes"]
        return StoredPart(
            raw, tuple(meta["tracks"]), frozenset(meta["artists"]), frozenset(meta["pools"])
        )

    mixes = part(header["mixes"])
    radar = part(header["release_radar"]) if header["release_radar"] is not None else None
    return StoredUser(int(header["v"]), mixes, radar)


def _read_first_format(document: dict[str, Any]) -> StoredUser:
    def convert(mix: dict[str, Any]) -> dict[str, Any]:
        return mix | {
            "tracks": [
                {"track_id": t, "artist_ids": [], "title": "", "reason": {"type": r, "via": v}}
                for t, r, v in mix["tracks"]
            ]
        }

    def part(rendered: Any, mixes: list[dict[str, Any]]) -> StoredPart:
        return StoredPart(
            orjson.dumps(rendered),
            tuple(sorted({t["track_id"] for m in mixes for t in m["tracks"]})),
            frozenset(),
            frozenset(m["pool_version"] for m in mixes),
        )

    mixes = [convert(m) for m in document["mixes"]]
    radar = document["release_radar"]
    return StoredUser(
        1,
        part(mixes, mixes),
        part(convert(radar), [convert(radar)]) if radar is not None else None,
    )


def decode_user(payload: bytes) -> dict[str, Any]:
    """The stored user as one document: ``{"v", "mixes": [Mix], "release_radar": Mix}``."""
    user = read_payload(payload)
    return {
        "v": user.version,
        "mixes": user.mixes.parsed(),
        "release_radar": user.release_radar.parsed() if user.release_radar else None,
    }
