"""Small composable steps that every generator's track list passes through (as in troi).

Each step takes candidates in preference order and returns the ones it keeps, so generators
state *what* they want and these steps guarantee the repetition rules of docs/contract.md invariant
4: no duplicate track, no two versions of one recording, no artist back-to-back, at most N tracks
per artist, and a user's "don't play this" choices honoured (featured appearances included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
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


class TrackRules:
    """The repetition rules of the steps below as one stateful pass, for generators that
    admit candidates one at a time until a mix is full (personal mixes): each candidate is
    checked against what the mix already holds, so nothing is built only to be dropped."""

    __slots__ = (
        "_blocked",
        "_discovery_cap",
        "_exclusions",
        "_familiar_cap",
        "_isrc_of",
        "_new",
        "_recent",
        "_seen_isrcs",
        "_seen_tracks",
        "_total",
    )

    def __init__(
        self,
        *,
        exclusions: UserExclusions,
        blocked: Mapping[str, frozenset[str]],
        isrc_of: Callable[[str], str | None],
        recent: Collection[str],
        familiar_cap: int,
        discovery_cap: int,
    ) -> None:
        self._exclusions = exclusions
        self._blocked = blocked
        self._isrc_of = isrc_of
        self._recent = recent
        self._familiar_cap = familiar_cap
        self._discovery_cap = discovery_cap
        self._seen_tracks: set[str] = set()
        self._seen_isrcs: set[str] = set()
        self._total: dict[str, int] = {}  # tracks per artist in the mix
        self._new: dict[str, int] = {}  # of which in discovery slots

    def admit(self, track_id: str, artist_ids: tuple[str, ...], via: str, slot: str) -> bool:
        """Whether the track may join the mix now; if so, it is counted as in the mix."""
        if track_id in self._seen_tracks:
            return False
        exclusions = self._exclusions
        if exclusions is not NO_EXCLUSIONS and not exclusions.allows(track_id, artist_ids):
            return False
        forbidden = self._blocked.get(via)
        if forbidden is not None and not forbidden.isdisjoint(artist_ids):
            return False
        discovery = slot == "discovery"
        if discovery and track_id in self._recent:
            return False
        total, new = self._total, self._new
        for artist in artist_ids:
            if total.get(artist, 0) >= self._familiar_cap or (
                discovery and new.get(artist, 0) >= self._discovery_cap
            ):
                return False
        isrc = self._isrc_of(track_id)
        if isrc is not None:
            if isrc in self._seen_isrcs:
                return False
            self._seen_isrcs.add(isrc)
        self._seen_tracks.add(track_id)
        for artist in artist_ids:
            total[artist] = total.get(artist, 0) + 1
            if discovery:
                new[artist] = new.get(artist, 0) + 1
        return True


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


def interleave(familiar: Sequence[MixTrack], discovery: Sequence[MixTrack]) -> list[MixTrack]:
    """Spread discovery tracks evenly among familiar ones: each sits in the middle of its share
    of the mix (two discoveries in eight tracks land third and seventh)."""
    total = len(familiar) + len(discovery)
    slots = {int((i + 0.5) * total / len(discovery)) for i in range(len(discovery))}
    new, known = iter(discovery), iter(familiar)
    return [next(new) if position in slots else next(known) for position in range(total)]
