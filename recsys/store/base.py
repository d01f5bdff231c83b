"""The store interface, the payload codec and the store errors.

A user's stored payload is compact: track ids and reasons only. Titles and artists are filled
in from the pool at read time, which also means a stored mix can never show metadata the
current pool does not vouch for.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from recsys.errors import RecsysError
from recsys.mix import Mix


class StoreUnavailableError(RecsysError):
    """The store did not answer in time (HTTP 503); retrying later may work."""


class StoreIntegrityError(RecsysError):
    """A new version failed its checks and was not made current."""


def encode_user(mixes: Iterable[Mix], release_radar: Mix | None) -> bytes:
    def compact(mix: Mix) -> dict[str, Any]:
        return {
            "mix_id": mix.mix_id,
            "kind": mix.kind,
            "title": mix.title,
            "generated_at": mix.generated_at.isoformat(),
            "pool_version": mix.pool_version,
            "model_version": mix.model_version,
            "tracks": [[t.track_id, t.reason.type, dict(t.reason.via)] for t in mix.tracks],
        }

    document = {
        "mixes": [compact(m) for m in mixes],
        "release_radar": compact(release_radar) if release_radar is not None else None,
    }
    return zlib.compress(orjson.dumps(document), 1)


def decode_user(payload: bytes) -> dict[str, Any]:
    return dict(orjson.loads(zlib.decompress(payload)))


class VersionWriter(Protocol):
    def put_many(self, users: Iterable[tuple[str, bytes]]) -> None: ...

    def commit(self, expected_users: int) -> None:
        """Verify the version holds ``expected_users`` users, then make it current and drop
        older versions. Raises ``StoreIntegrityError`` (nothing switched) otherwise."""

    def abort(self) -> None: ...


class MixStore(Protocol):
    name: str

    def begin(self, version: str) -> VersionWriter: ...

    def current_version(self) -> str | None: ...

    def read_user(self, user_id: str) -> bytes | None: ...

    def delete_user(self, user_id: str) -> None:
        """Erase a user from every version (current and any being written)."""

    def replace_excluded_tracks(self, track_ids: Iterable[str]) -> None:
        """The tracks no reader may serve now (flags, reviews, takedowns)."""

    def excluded_among(self, track_ids: list[str]) -> set[str]: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
