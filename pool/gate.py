"""The eligibility predicate: the one place that says whether a track may reach a listener.

The pool builder calls it to admit tracks, and the engine's final filter calls
``is_servable`` at generation and at read time; neither restates the rule (STYLE.md, point 1).
A track is admitted only when its metadata comes from a trusted partner, its label is trusted
and every credited main artist is verified, and nothing about AI or takedowns keeps it out.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field

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
class RevokedTrust:
    """Partners, labels and artists whose trust staff revoked (the registry's ``trusted = 0``
    rows): a pool built before the revocation still holds their tracks."""

    partners: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    artists: frozenset[str] = frozenset()

    def reason_for(self, track: Track) -> str | None:
        if track.partner in self.partners:
            return UNTRUSTED_PARTNER
        if track.label_id in self.labels:
            return UNTRUSTED_LABEL
        if not self.artists.isdisjoint(track.artist_ids):
            return UNVERIFIED_ARTIST
        return None


@dataclass(frozen=True, slots=True)
class TrustIndex:
    """A pool's tracks by partner, label and main artist: the tracks of a revoked subject are
    then found by a look-up per revoked id, not by a pass over a million tracks at every
    refresh of what is withheld."""

    by_partner: Mapping[str, tuple[str, ...]]
    by_label: Mapping[str, tuple[str, ...]]
    by_artist: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, tracks: Mapping[str, Track]) -> TrustIndex:
        partners: dict[str, list[str]] = {}
        labels: dict[str, list[str]] = {}
        artists: dict[str, list[str]] = {}
        for track_id, track in tracks.items():
            partners.setdefault(track.partner, []).append(track_id)
            labels.setdefault(track.label_id, []).append(track_id)
            for artist in track.artist_ids:
                artists.setdefault(artist, []).append(track_id)

        def frozen(index: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
            return {key: tuple(ids) for key, ids in index.items()}

        return cls(frozen(partners), frozen(labels), frozen(artists))


# The index of the last pools asked about, by version (a server and a rebuild hold one or two).
_INDEXES: dict[str, TrustIndex] = {}
_INDEXES_KEPT = 2


def trust_index(version: str, tracks: Mapping[str, Track]) -> TrustIndex:
    index = _INDEXES.get(version)
    if index is None:
        index = TrustIndex.of(tracks)
        while len(_INDEXES) >= _INDEXES_KEPT:
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[version] = index
    return index


def revoked_tracks(
    version: str, tracks: Mapping[str, Track], revoked: RevokedTrust
) -> dict[str, str]:
    """The tracks of pool ``version`` that a revocation keeps out now, with the reason a pool
    build would give (a revocation older than the pool matches none of its tracks)."""
    if not (revoked.partners or revoked.labels or revoked.artists):
        return {}
    index = trust_index(version, tracks)
    found: dict[str, str] = {}
    for ids, by_subject in (
        (revoked.partners, index.by_partner),
        (revoked.labels, index.by_label),
        (revoked.artists, index.by_artist),
    ):
        for subject in ids:
            for track_id in by_subject.get(subject, ()):
                reason = revoked.reason_for(tracks[track_id])
                if reason is not None:
                    found.setdefault(track_id, reason)
    return found


@dataclass(frozen=True, slots=True)
class ServingExclusions:
    """What keeps an admitted track from listeners *now*: AI verdicts, takedowns, and trust
    revoked since the pool was built.

    Flags, takedowns and revocations change faster than the pool is rebuilt, so readers check
    this set on every read instead of waiting for the next build; the next build then leaves
    the revoked tracks out of the pool itself.
    """

    ai: AiVerdicts
    taken_down: frozenset[str]
    revoked: Mapping[str, str] = field(default_factory=dict)  # track -> untrusted_* reason
    unverified_artists: frozenset[str] = frozenset()  # verification revoked since the build

    def reason_for(self, track_id: str) -> str | None:
        if track_id in self.taken_down:
            return TAKEN_DOWN
        revoked = self.revoked.get(track_id)
        if revoked is not None:
            return revoked
        return self.ai.reason_for(track_id)

    def withheld(self) -> frozenset[str]:
        """Every track this keeps from listeners, for stores that check membership."""
        return (
            frozenset(self.ai.excluded)
            | self.ai.pending_review
            | self.taken_down
            | frozenset(self.revoked)
        )


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
