"""Building the pool: the gate applied to every catalog track, with a report of what it refused.

Pure: everything it needs comes in as arguments, so the same catalog, registry, flags and
takedowns always give the same snapshot version.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from pool.catalog import TRACKS_FILE, Catalog
from pool.gate import ServingExclusions, TrustRegistry, rejection_reasons
from pool.model import FeedIssue
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
    by_reason: Counter[str] = Counter()
    for track_id, track in catalog.tracks.items():
        reasons = rejection_reasons(track, registry, exclusions)
        if reasons:
            rejected[track_id] = reasons
            by_reason.update(reasons)
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
    )
    return PoolBuild(snapshot, encoded, report)
