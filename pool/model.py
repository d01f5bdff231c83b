"""Domain values of the candidate pool: catalog records, trust grants, flags and takedowns.

All are frozen so a parsed catalog can be shared between the pool builder, the snapshot and the
engine without anyone mutating what the gate has already judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

AiDeclaration = Literal["none", "assisted", "generated"]
FlagSource = Literal["detector", "label", "curator", "listener"]
TrustKind = Literal["partner", "label", "artist"]
ReviewDecision = Literal["exclude", "clear"]

AI_DECLARATIONS: frozenset[str] = frozenset({"none", "assisted", "generated"})
FLAG_SOURCES: frozenset[str] = frozenset({"detector", "label", "curator", "listener"})
TRUST_KINDS: tuple[TrustKind, ...] = ("partner", "label", "artist")
REVIEW_DECISIONS: frozenset[str] = frozenset({"exclude", "clear"})


@dataclass(frozen=True, slots=True)
class Artist:
    artist_id: str
    name: str
    partner: str


@dataclass(frozen=True, slots=True)
class Label:
    label_id: str
    name: str
    partner: str


@dataclass(frozen=True, slots=True)
class Track:
    track_id: str
    title: str
    artist_ids: tuple[str, ...]
    label_id: str
    release_id: str
    release_title: str
    release_date: date
    duration_ms: int
    isrc: str
    tags: tuple[str, ...]
    ai_declaration: AiDeclaration
    partner: str

    @property
    def primary_artist_id(self) -> str:
        return self.artist_ids[0]


@dataclass(frozen=True, slots=True)
class AiFlag:
    """A report that a track may be fully AI-generated; only rules in ``ai_status`` judge it."""

    track_id: str
    source: FlagSource
    score: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AiReview:
    """A curator's decision on a flagged track; it overrides every flag on that track."""

    track_id: str
    decision: ReviewDecision
    decided_by: str
    decided_at: datetime
    note: str


@dataclass(frozen=True, slots=True)
class Takedown:
    track_id: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TrustGrant:
    """One row of the platform's trust registry, as staff recorded it."""

    kind: TrustKind
    subject_id: str
    granted_by: str
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class FeedIssue:
    """A row that was not admitted: where it is and why, for the operator's report."""

    file: str
    line: int
    reason: str
    code: str = "invalid_metadata"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"
