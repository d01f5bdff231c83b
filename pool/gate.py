"""The eligibility predicate: the one place that says whether a track may reach a listener.

The pool builder calls it to admit tracks, and the engine's final filter calls
``is_servable`` at generation and at read time; neither restates the rule (STYLE.md, point 1).
A track is admitted only when its metadata comes from a trusted partner, its label is trusted
and every credited main artist is verified, and nothing about AI or takedowns keeps it out.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from pool.ai_status import AiVerdicts
from pool.model import Track

UNTRUSTED_PARTNER = "untrusted_partner"
UNTRUSTED_LABEL = "untrusted_label"
UNVERIFIED_ARTIST = "unverified_artist"
DECLARED_GENERATED = "declared_generated"
TAKEN_DOWN = "taken_down"


@dataclass(frozen=True, slots=True)
class TrustRegistry:
    """The ids the platform's staff currently trust; feeds have no say in it."""

    trusted_partners: frozenset[str]
    trusted_labels: frozenset[str]
    verified_artists: frozenset[str]


@dataclass(frozen=True, slots=True)
class ServingExclusions:
    """What keeps an admitted track from listeners *now*: AI verdicts and takedowns.

    Flags and takedowns change faster than the pool is rebuilt, so readers check this set on
    every read instead of waiting for the next build.
    """

    ai: AiVerdicts
    taken_down: frozenset[str]

    def reason_for(self, track_id: str) -> str | None:
        if track_id in self.taken_down:
            return TAKEN_DOWN
        return self.ai.reason_for(track_id)

    def withheld(self) -> frozenset[str]:
        """Every track this keeps from listeners, for stores that check membership."""
        return frozenset(self.ai.excluded) | self.ai.pending_review | self.taken_down


def rejection_reasons(
    track: Track, registry: TrustRegistry, exclusions: ServingExclusions
) -> tuple[str, ...]:
    """Every reason that keeps ``track`` out of the pool; empty means admitted."""
    reasons: list[str] = []
    if track.partner not in registry.trusted_partners:
        reasons.append(UNTRUSTED_PARTNER)
    if track.label_id not in registry.trusted_labels:
        reasons.append(UNTRUSTED_LABEL)
    if any(artist not in registry.verified_artists for artist in track.artist_ids):
        reasons.append(UNVERIFIED_ARTIST)
    if track.ai_declaration == "generated":
        reasons.append(DECLARED_GENERATED)
    exclusion = exclusions.reason_for(track.track_id)
    if exclusion is not None:
        reasons.append(exclusion)
    return tuple(reasons)


def is_servable(
    track_id: str, pool_track_ids: Container[str], exclusions: ServingExclusions
) -> bool:
    """True when a track is in the current pool and nothing excludes it at this moment."""
    return track_id in pool_track_ids and exclusions.reason_for(track_id) is None
