"""How many listeners' stored mixes play both artists of a pair: what a link edit touches.

A curator about to block a pair wants to know whether listeners actually get the two
together. The stored payloads name the artists of each listener's mixes in their header
(``recsys.payload.codec``), so the count reads headers only. A large service has millions of
listeners and a preview must answer at once, so beyond ``SAMPLE`` listeners an even sample of
them is read and the count is scaled up, and the page says so: an exact count of a small
world, an estimate of a large one, never a number that pretends to be what it is not.
The sample's headers are read once per store version into an index (artist -> the sampled
listeners whose mixes hold it), so a pair's count is one set intersection.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from recsys.payload.codec import read_payload
from recsys.store.base import MixStore, StoreUnavailableError

SAMPLE = 500


@dataclass(frozen=True, slots=True)
class PairReach:
    """Listeners (of those read) whose stored mixes play both artists."""

    holding: int  # among the listeners read
    read: int
    listeners: int  # in all

    @property
    def exact(self) -> bool:
        return self.read == self.listeners

    @property
    def estimate(self) -> int:
        """The count scaled to every listener (equal to ``holding`` when all were read)."""
        if self.read == 0:
            return 0
        return round(self.holding * self.listeners / self.read)


@dataclass(frozen=True, slots=True)
class _Index:
    """Per store version: the sampled listeners, and per artist those whose mixes hold it."""

    version: str | None
    read: int
    listeners: int
    holders: dict[str, frozenset[int]]

    def reach(self, pair: tuple[str, str]) -> PairReach:
        a, b = pair
        both = self.holders.get(a, frozenset()) & self.holders.get(b, frozenset())
        return PairReach(len(both), self.read, self.listeners)


class PairReachCounter:
    """``count`` over an index of the current store version's sampled headers, made once per
    version (and per number of listeners)."""

    def __init__(self, sample: int = SAMPLE) -> None:
        self._sample = sample
        self._index: _Index | None = None
        self._lock = threading.Lock()

    def count(
        self, store: MixStore, listeners: Sequence[str], pair: tuple[str, str]
    ) -> PairReach | None:
        """None when the store does not answer (the page says so rather than guessing)."""
        try:
            version = store.current_version()
            with self._lock:
                index = self._index
                if index is None or (index.version, index.listeners) != (version, len(listeners)):
                    index = self._index = index_sample(store, version, listeners, self._sample)
        except StoreUnavailableError:
            return None
        return index.reach(pair)


def index_sample(
    store: MixStore, version: str | None, listeners: Sequence[str], sample: int
) -> _Index:
    """Read the stored headers of ``listeners`` (an even sample of ``sample`` of them)."""
    step = max(1, -(-len(listeners) // sample)) if sample > 0 else 1
    chosen = listeners[::step]
    holders: dict[str, set[int]] = {}
    for position, user_id in enumerate(chosen):
        payload = store.read_user(user_id)
        if payload is None:
            continue
        for artist in read_payload(payload).mixes.artist_ids:
            holders.setdefault(artist, set()).add(position)
    frozen = {artist: frozenset(found) for artist, found in holders.items()}
    return _Index(version, len(chosen), len(listeners), frozen)
