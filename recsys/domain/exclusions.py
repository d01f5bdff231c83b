"""A listener's "don't play this": the artists (featured appearances included) and single
tracks they never want to hear, honoured by every generator and by the final filter."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserExclusions:
    """A listener's "don't play this": whole artists (featured included) or single tracks."""

    artists: frozenset[str] = frozenset()
    tracks: frozenset[str] = frozenset()

    def allows(self, track_id: str, artist_ids: Iterable[str]) -> bool:
        return track_id not in self.tracks and self.artists.isdisjoint(artist_ids)


NO_EXCLUSIONS = UserExclusions()
