"""Building the pool: the gate applied to every catalog track, with a report of what it refused.

Pure: everything it needs comes in as arguments, so the same catalog, registry, flags and
takedowns always give the same snapshot version.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pool.catalog import TRACKS_FILE, Catalog
from pool.gate import ServingExclusions, TrustRegistry, rejection_reasons
from pool.model import FeedIssue, Track
from pool.snapshot import PoolSnapshot, make_snapshot


@dataclass(frozen=True, slots=True)
class PoolReport:
    """What the build admitted and refused, and why; the operator's view of one build."""

    version: str
    catalog_tracks: int
    admitted: int
    rejected_by_reason: dict[str, int]
    rejected_tracks: dict[str, tuple[str, ...]]
    issues: tuple[FeedIssue, ...]
    # What curators need to recognise a refused track an AI verdict holds (flagged, waiting for
    # review or excluded): the review queue names it though the snapshot keeps only admitted
    # tracks. Title, artists and label with their catalogue names, partner.
    held_tracks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Every artist, label and partner id the catalogue delivery named, admitted or not: what
    # staff may grant trust to without being told it looks like a typo.
    delivered: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def issues_by_code(self) -> dict[str, int]:
        return dict(Counter(issue.code for issue in self.issues))

    def summary(self, max_issues: int = 20) -> dict[str, Any]:
        """A JSON-ready summary; the full list of refused rows is in ``issues``."""
        return {
            "version": self.version,
            "catalog_tracks": self.catalog_tracks,
            "admitted": self.admitted,
            "rejected": len(self.rejected_tracks),
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "feed_issues": len(self.issues),
            "feed_issues_by_code": dict(sorted(self.issues_by_code.items())),
            "first_feed_issues": [str(i) for i in self.issues[:max_issues]],
        }


@dataclass(frozen=True, slots=True)
class PoolBuild:
    snapshot: PoolSnapshot
    encoded: tuple[bytes, bytes, bytes]
    report: PoolReport


def build_pool(
    catalog: Catalog,
    registry: TrustRegistry,
    exclusions: ServingExclusions,
    extra_issues: tuple[FeedIssue, ...] = (),
) -> PoolBuild:
    """Admit every catalog track that passes the gate; count each refusal by reason."""
    admitted = {}
    rejected: dict[str, tuple[str, ...]] = {}
    held: dict[str, dict[str, Any]] = {}
    by_reason: Counter[str] = Counter()
    for track_id, track in catalog.tracks.items():
        reasons = rejection_reasons(track, registry, exclusions)
        if reasons:
            rejected[track_id] = reasons
            by_reason.update(reasons)
            if exclusions.ai.reason_for(track_id) is not None:
                held[track_id] = _held_entry(track, catalog)
        else:
            admitted[track_id] = track
    issues = catalog.issues + extra_issues
    # Track rows that never parsed are refused too, each under its own code.
    track_issues = [i for i in catalog.issues if i.file == TRACKS_FILE]
    by_reason.update(issue.code for issue in track_issues)
    # The pool vouches for every verified artist and trusted label of the catalog, even one
    # with no admitted track yet: curators may link it, and its next release is welcome.
    artists = {a: v for a, v in catalog.artists.items() if a in registry.verified_artists}
    labels = {x: v for x, v in catalog.labels.items() if x in registry.trusted_labels}
    snapshot, encoded = make_snapshot(admitted, artists, labels)
    report = PoolReport(
        version=snapshot.version,
        catalog_tracks=len(catalog.tracks) + len(track_issues),
        admitted=len(admitted),
        rejected_by_reason=dict(by_reason),
        rejected_tracks=rejected,
        issues=issues,
        held_tracks=held,
        delivered=delivered_ids(catalog),
    )
    return PoolBuild(snapshot, encoded, report)


def delivered_ids(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """The ids of each trust kind that the catalogue delivery names."""
    partners = {a.partner for a in catalog.artists.values()}
    partners.update(x.partner for x in catalog.labels.values())
    partners.update(t.partner for t in catalog.tracks.values())
    labels = set(catalog.labels) | {t.label_id for t in catalog.tracks.values()}
    artists = set(catalog.artists) | {a for t in catalog.tracks.values() for a in t.artist_ids}
    return {
        "artist": tuple(sorted(artists)),
        "label": tuple(sorted(labels)),
        "partner": tuple(sorted(partners)),
    }


def _held_entry(track: Track, catalog: Catalog) -> dict[str, Any]:
    """A held track as the review queue shows it, names from the catalogue delivery."""
    artist, label = catalog.artists.get, catalog.labels.get(track.label_id)
    return {
        "title": track.title,
        "artists": [
            {"artist_id": a, "name": found.name if (found := artist(a)) else None}
            for a in track.artist_ids
        ],
        "label": {"label_id": track.label_id, "name": label.name if label else None},
        "partner": track.partner,
        "declaration": track.ai_declaration,
    }
