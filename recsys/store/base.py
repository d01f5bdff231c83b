"""The store interface and the store errors.

A store keeps each user's payload (bytes in the format of ``recsys.payload.codec``) under a
version, makes a complete version current with one switch, and keeps the set of tracks no
reader may serve now. It never looks inside a payload.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from recsys.errors import RecsysError


class StoreUnavailableError(RecsysError):
    """The store did not answer in time (HTTP 503); retrying later may work."""


class StoreIntegrityError(RecsysError):
    """A new version failed its checks and was not made current."""


class VersionWriter(Protocol):
    def put_many(self, users: Iterable[tuple[str, bytes]]) -> None: ...

    def for_worker(self) -> VersionWriter:
        """A writer of the same version over a connection of its own, for a forked process
        (a connection must not be shared across a fork). It only puts; the writer it came
        from commits or aborts."""

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

    def drop_stale_versions(self) -> list[str]:
        """Remove every version but the current one and return them: what a rebuild killed
        before its commit or abort left behind. The caller holds the rebuild lock
        (``recsys.jobs.rebuild.rebuild_lock``), so no version is being written meanwhile."""

    def replace_excluded_tracks(self, track_ids: Iterable[str]) -> None:
        """The tracks no reader may serve now (flags, reviews, takedowns)."""

    def excluded_among(self, track_ids: list[str]) -> set[str]: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
