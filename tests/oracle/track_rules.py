"""The repetition rules as the Python oracle states them: one stateful pass that admits a
mix's candidates one at a time (``TrackRules``), and the even spread of discoveries among
familiar tracks (``interleave``), and the order without an artist back-to-back
(``spread_artists``). The compiled generators state the same rules once, in
``recsys.generators.batch_kernel._admit``; the oracle is held to them output for output.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol, TypeVar

from recsys.domain.exclusions import NO_EXCLUSIONS, UserExclusions
from recsys.domain.mix import MixTrack


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


def interleave(familiar: Sequence[MixTrack], discovery: Sequence[MixTrack]) -> list[MixTrack]:
    """Spread discovery tracks evenly among familiar ones: each sits in the middle of its share
    of the mix (two discoveries in eight tracks land third and seventh)."""
    total = len(familiar) + len(discovery)
    slots = {int((i + 0.5) * total / len(discovery)) for i in range(len(discovery))}
    new, known = iter(discovery), iter(familiar)
    return [next(new) if position in slots else next(known) for position in range(total)]


class Credited(Protocol):
    """Anything with the artists a track credits (a mix track, a generator's candidate)."""

    @property
    def artist_ids(self) -> tuple[str, ...]: ...


C = TypeVar("C", bound=Credited)


def shares_artist(a: Credited, b: Credited) -> bool:
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
            if not placed or not shares_artist(placed[-1], track):
                placed.append(remaining.pop(index))
                break
        else:
            remaining.pop(0)
    return placed
