"""The final filter: the one function every output path goes through, at generation and read.

It asks the pool's own predicate (``pool.gate.is_servable``) whether each track may reach a
listener *now*, so a flag, takedown or revocation takes effect on a stored mix at the next
read without a rebuild; then it applies the listener's own exclusions and repairs any artist
repeat that the removals created.

"Would this filter change an output?" is answered here and nowhere else: ``filter_changes``
for one output (the read path asks it before serving a stored part as it is, the rebuild
before encoding shared mixes, the filter itself before looking track by track), and
``chunk_filter_changes``, its form over a chunk of generated listeners (the rebuild asks it
before assembling their payloads from compiled rows), held to the first by a test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Container, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from pool.gate import ServingExclusions, is_servable
from recsys.domain.exclusions import NO_EXCLUSIONS, UserExclusions
from recsys.domain.mix import Mix, MixTrack

if TYPE_CHECKING:  # the compiled generators import this module's neighbours, not this one
    from recsys.generators.batch import CompiledChunk

BoolArray = npt.NDArray[np.bool_]

NOT_IN_POOL = "not_in_pool"
EXCLUDED_NOW = "excluded_now"
USER_EXCLUSION = "user_exclusion"
BLOCKED_PAIR = "blocked_pair"
BACK_TO_BACK = "back_to_back_after_removal"
# Reasons that link the track's artists to another artist through the similar-artist graph.
GRAPH_REASONS = frozenset({"curated_link", "als_neighbour"})
NO_BLOCKS: Mapping[str, frozenset[str]] = {}


class TrackGate(Protocol):
    def reason_against(self, track_id: str) -> str | None:
        """None when the track may be served now, else the reason it may not."""


@dataclass(frozen=True, slots=True)
class ServingGate:
    """The current pool and what keeps its tracks from listeners right now."""

    pool_version: str
    pool_track_ids: Container[str]
    exclusions: ServingExclusions
    # Every pool track withheld now, as one set: a read checks a stored mix against it at once.
    withheld: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "withheld", self.exclusions.withheld())

    def allows(self, track_id: str) -> bool:
        return is_servable(track_id, self.pool_track_ids, self.exclusions)

    def allows_all(self, track_ids: Collection[str]) -> bool:
        """Whether every one of the tracks may be served now: what ``reason_against`` says
        track by track, as two set operations."""
        pool = self.pool_track_ids
        if not isinstance(pool, AbstractSet):
            return all(self.reason_against(t) is None for t in track_ids)
        return self.withheld.isdisjoint(track_ids) and pool.issuperset(track_ids)

    def reason_against(self, track_id: str) -> str | None:
        if track_id not in self.pool_track_ids:
            return NOT_IN_POOL
        return self.exclusions.reason_for(track_id)


@dataclass(frozen=True, slots=True)
class StoredReadGate:
    """The gate of the read path: the current pool, this process's view of what is withheld,
    and the store's set of tracks excluded since (kept current by every flag, review and
    takedown, so a read needs one lookup). A track is served only when all three agree, so a
    store that missed an update while it was down cannot bring a flagged track back."""

    gate: ServingGate
    excluded_now: Container[str]

    def reason_against(self, track_id: str) -> str | None:
        reason = self.gate.reason_against(track_id)
        if reason is not None:
            return reason
        return EXCLUDED_NOW if track_id in self.excluded_now else None


def filter_changes(
    gate: ServingGate,
    track_ids: Collection[str],
    artist_ids: Collection[str],
    exclusions: UserExclusions = NO_EXCLUSIONS,
) -> bool:
    """Whether the final filter would remove anything from an output holding ``track_ids``
    (crediting ``artist_ids``) for a listener with ``exclusions``: a track outside the pool or
    withheld now, or one the listener excluded (featured artists included)."""
    return not (
        gate.allows_all(track_ids)
        and exclusions.tracks.isdisjoint(track_ids)
        and exclusions.artists.isdisjoint(artist_ids)
    )


def chunk_filter_changes(chunk: CompiledChunk, withheld: npt.NDArray[np.bool_]) -> BoolArray:
    """``filter_changes`` for each listener of a compiled chunk, over their mixes and Release
    Radar at once (``withheld``: the gate's withheld set as a mask over track numbers). The
    generators draw only from the pool, so pool membership holds by construction; withheld
    tracks and the listener's own exclusions are checked in compiled code."""
    return chunk.users_with(withheld) | chunk.excluding()


def crosses_a_block(track: MixTrack, blocked: Mapping[str, frozenset[str]]) -> bool:
    """Whether the track's reason links it to an artist a curator has blocked with one of the
    track's artists (a block made after the mix was generated)."""
    if track.reason.type not in GRAPH_REASONS:
        return False
    via = track.reason.via.get("artist_id")
    partners = blocked.get(via) if isinstance(via, str) else None
    return partners is not None and not partners.isdisjoint(track.artist_ids)


def final_filter(
    mix: Mix,
    gate: TrackGate,
    user_exclusions: UserExclusions = NO_EXCLUSIONS,
    blocked: Mapping[str, frozenset[str]] = NO_BLOCKS,
) -> tuple[Mix, Counter[str]]:
    """The mix with every track that may not be served removed, and counts per reason.
    ``blocked`` (artist -> artists a curator blocked it with) removes tracks whose reason
    crosses a block: the read path passes it for mixes stored before a block."""
    dropped: Counter[str] = Counter()
    if (
        isinstance(gate, ServingGate)
        and user_exclusions is NO_EXCLUSIONS
        and not blocked
        and not filter_changes(gate, [t.track_id for t in mix.tracks], ())
    ):
        # Nothing to remove (the rebuild's common case): only the repeat repair remains.
        repaired = drop_back_to_back(mix.tracks)
        if len(repaired) == len(mix.tracks):
            return mix, dropped
        dropped[BACK_TO_BACK] += len(mix.tracks) - len(repaired)
        return mix.with_tracks(tuple(repaired)), dropped
    kept = []
    for track in mix.tracks:
        reason = gate.reason_against(track.track_id)
        if reason is None and not user_exclusions.allows(track.track_id, track.artist_ids):
            reason = USER_EXCLUSION
        if reason is None and blocked and crosses_a_block(track, blocked):
            reason = BLOCKED_PAIR
        if reason is None:
            kept.append(track)
        else:
            dropped[reason] += 1
    repaired = drop_back_to_back(kept)
    if len(repaired) < len(kept):
        dropped[BACK_TO_BACK] += len(kept) - len(repaired)
    return mix.with_tracks(tuple(repaired)), dropped


def drop_back_to_back(tracks: Sequence[MixTrack]) -> list[MixTrack]:
    """Without reordering: drop a track that would follow its own artist (the read-time
    repair of a stored mix the filter removed a track from)."""
    kept: list[MixTrack] = []
    for track in tracks:
        if not kept or set(kept[-1].artist_ids).isdisjoint(track.artist_ids):
            kept.append(track)
    return kept
