"""Small composable steps that every generator's track list passes through (as in troi).

Each step takes candidates in preference order and returns the ones it keeps, so generators
state *what* they want and these steps guarantee the repetition rules of docs/contract.md invariant
4: no duplicate track, no two versions of one recording, no artist back-to-back, at most N tracks
per artist, and a user's "don't play this" choices honoured (featured appearances included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from recsys.domain.mix import MixTrack

Step = Callable[[Sequence[MixTrack]], list[MixTrack]]


@dataclass(frozen=True, slots=True)
class UserExclusions:
    """A listener's "don't play this": whole artists (featured included) or single tracks."""

    artists: frozenset[str] = frozenset()
    tracks: frozenset[str] = frozenset()

    def allows(self, track_id: str, artist_ids: Iterable[str]) -> bool:
        return track_id not in self.tracks and self.artists.isdisjoint(artist_ids)


NO_EXCLUSIONS = UserExclusions()


def drop_excluded(exclusions: UserExclusions) -> Step:
    def step(tracks: Sequence[MixTrack]) -> list[MixTrack]:
        return [t for t in tracks if exclusions.allows(t.track_id, t.artist_ids)]

    return step


def drop_blocked(blocked: Mapping[str, frozenset[str]], seed_artist: str | None = None) -> Step:
    """Drop a track whose credits include an artist blocked with the artist its reason names
    (or with a radio's seed): a featured appearance must not smuggle in a blocked pair."""

    def step(tracks: Sequence[MixTrack]) -> list[MixTrack]:
        kept = []
        for track in tracks:
            via = track.reason.via.get("artist_id")
            forbidden = blocked.get(via, frozenset()) if isinstance(via, str) else frozenset()
            if seed_artist is not None:
                forbidden = forbidden | blocked.get(seed_artist, frozenset())
            if forbidden.isdisjoint(track.artist_ids):
                kept.append(track)
        return kept

    return step


def drop_duplicates(isrc_of: Callable[[str], str | None]) -> Step:
    """One copy of each track and of each recording (same ISRC = single and album version)."""

    def step(tracks: Sequence[MixTrack]) -> list[MixTrack]:
        seen_tracks: set[str] = set()
        seen_isrcs: set[str] = set()
        kept = []
        for track in tracks:
            isrc = isrc_of(track.track_id)
            if track.track_id in seen_tracks or (isrc is not None and isrc in seen_isrcs):
                continue
            seen_tracks.add(track.track_id)
            if isrc is not None:
                seen_isrcs.add(isrc)
            kept.append(track)
        return kept

    return step


def cap_per_artist(familiar: int, discovery: int) -> Step:
    """At most ``familiar`` tracks per artist, of which at most ``discovery`` in discovery slots."""

    def step(tracks: Sequence[MixTrack]) -> list[MixTrack]:
        total: Counter[str] = Counter()
        new: Counter[str] = Counter()
        kept = []
        for track in tracks:
            if any(total[a] >= familiar for a in track.artist_ids):
                continue
            if track.slot == "discovery" and any(new[a] >= discovery for a in track.artist_ids):
                continue
            total.update(track.artist_ids)
            if track.slot == "discovery":
                new.update(track.artist_ids)
            kept.append(track)
        return kept

    return step


class Credited(Protocol):
    """Anything with the artists a track credits (a mix track, a generator's candidate)."""

    @property
    def artist_ids(self) -> tuple[str, ...]: ...


C = TypeVar("C", bound=Credited)


def _shares_artist(a: Credited, b: Credited) -> bool:
    first, second = a.artist_ids, b.artist_ids
    if len(first) == 1:  # most tracks credit one artist: no set to build
        return first[0] in second
    return not set(first).isdisjoint(second)


def spread_artists(tracks: Sequence[C], limit: int | None = None) -> list[C]:
    """Reorder so that no artist plays twice in a row, moving as little as possible.

    Greedy: take the earliest remaining track that does not share an artist with the last one
    placed; a track that cannot be placed anywhere without a repeat is dropped, so the result
    always meets the rule. With ``limit``, the first ``limit`` of that order (the greedy's
    first placements never depend on later ones, so a long list is not ordered only to be cut).
    """
    remaining = list(tracks)
    placed: list[C] = []
    while remaining and (limit is None or len(placed) < limit):
        for index, track in enumerate(remaining):
            if not placed or not _shares_artist(placed[-1], track):
                placed.append(remaining.pop(index))
                break
        else:
            remaining.pop(0)
    return placed


def drop_back_to_back(tracks: Sequence[MixTrack]) -> list[MixTrack]:
    """Without reordering: drop a track that would follow its own artist (read-time repair)."""
    kept: list[MixTrack] = []
    for track in tracks:
        if not kept or not _shares_artist(kept[-1], track):
            kept.append(track)
    return kept


def apply_steps(tracks: Sequence[MixTrack], steps: Iterable[Step]) -> list[MixTrack]:
    result = list(tracks)
    for step in steps:
        result = step(result)
    return result
