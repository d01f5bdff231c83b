"""How many listeners' stored mixes play both artists of a pair: what a link edit touches.

A curator about to block a pair wants to know whether listeners actually get the two
together. The stored payloads name the artists of each listener's mixes in their header
(``recsys.payload.codec``), so the count reads headers only. A large service has millions of
listeners and a preview must answer at once, so beyond ``SAMPLE`` listeners an even sample of
them is read and the count is scaled up, and the page says so: an exact count of a small
world, an estimate of a large one, never a number that pretends to be what it is not.
Answers are kept per store version and pair.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from recsys.payload.codec import read_payload
from recsys.store.base import MixStore, StoreUnavailableError

SAMPLE = 500
KEPT = 256


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


class PairReachCounter:
    """``count`` with the answers of recent (store version, pair) questions kept."""

    def __init__(self, sample: int = SAMPLE) -> None:
        self._sample = sample
        self._answers: OrderedDict[tuple[str | None, str, str], PairReach] = OrderedDict()
        self._lock = threading.Lock()

    def count(
        self, store: MixStore, listeners: Sequence[str], pair: tuple[str, str]
    ) -> PairReach | None:
        """None when the store does not answer (the page says so rather than guessing)."""
        try:
            version = store.current_version()
            key = (version, *pair)
            with self._lock:
                known = self._answers.get(key)
            if known is not None:
                return known
            reach = count_pair(store, listeners, pair, self._sample)
        except StoreUnavailableError:
            return None
        with self._lock:
            self._answers[key] = reach
            if len(self._answers) > KEPT:
                self._answers.popitem(last=False)
        return reach


def count_pair(
    store: MixStore, listeners: Sequence[str], pair: tuple[str, str], sample: int
) -> PairReach:
    """Read the stored headers of ``listeners`` (an even sample of ``sample`` of them)."""
    step = max(1, -(-len(listeners) // sample)) if sample > 0 else 1
    chosen = listeners[::step]
    a, b = pair
    holding = 0
    for user_id in chosen:
        payload = store.read_user(user_id)
        if payload is None:
            continue
        artists = read_payload(payload).mixes.artist_ids
        if a in artists and b in artists:
            holding += 1
    return PairReach(holding, len(chosen), len(listeners))
