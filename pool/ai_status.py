"""Judging AI flags: which tracks are excluded now, which wait for a curator, which are clear.

Human judgement decides (docs/contract.md section 1): a detector score only queues a track for
review unless it reaches the exclusion threshold, and a curator's decision overrides every flag
raised before that decision, except the rights holder's: a clear never overrides a label's own flag.
A detector-queued track waits out of listeners' reach; a listener report
only puts the track in front of a curator and withholds nothing, or anyone could take a rival's
track off every mix by mass-reporting it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pool.model import AiFlag, AiReview

AI_CONFIRMED = "ai_confirmed"
AI_FLAGGED = "ai_flagged"
AI_REVIEW_PENDING = "ai_review_pending"
AI_REPORTED = "ai_reported"  # in the review queue, still served


@dataclass(frozen=True, slots=True)
class AiRules:
    """Thresholds on detector scores (``config/default.toml`` ``[pool.ai]``)."""

    exclude_threshold: float = 0.9
    review_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_threshold <= self.exclude_threshold <= 1.0:
            raise ValueError(
                "AI thresholds must satisfy 0 <= review_threshold <= exclude_threshold <= 1"
            )


@dataclass(frozen=True, slots=True)
class AiVerdicts:
    """Per track, the reason code that keeps it from listeners; absent tracks are clear."""

    excluded: Mapping[str, str]
    pending_review: frozenset[str]  # withheld until a curator decides
    reported: frozenset[str] = frozenset()  # queued for a curator, still served

    @property
    def review_queue(self) -> frozenset[str]:
        return self.pending_review | self.reported

    def reason_for(self, track_id: str) -> str | None:
        if track_id in self.excluded:
            return self.excluded[track_id]
        return AI_REVIEW_PENDING if track_id in self.pending_review else None


def _flag_verdict(flag: AiFlag, rules: AiRules) -> str | None:
    if flag.source == "curator":
        return AI_CONFIRMED
    if flag.source == "label":
        return AI_FLAGGED  # the rights holder itself says the track is generated
    if flag.score < rules.review_threshold:
        return None
    if flag.source == "listener":
        return AI_REPORTED
    return AI_FLAGGED if flag.score >= rules.exclude_threshold else AI_REVIEW_PENDING


_SEVERITY = {AI_CONFIRMED: 4, AI_FLAGGED: 3, AI_REVIEW_PENDING: 2, AI_REPORTED: 1}


def judge_ai_flags(
    flags: Iterable[AiFlag], reviews: Mapping[str, AiReview], rules: AiRules
) -> AiVerdicts:
    """Combine every flag and the latest curator review per track into one verdict each."""
    worst: dict[str, str] = {}
    for flag in flags:
        review = reviews.get(flag.track_id)
        if (
            review is not None
            and flag.created_at <= review.decided_at
            and not (flag.source == "label" and review.decision == "clear")
        ):
            continue  # the curator saw this evidence already and decided
        verdict = _flag_verdict(flag, rules)
        if verdict is not None and _SEVERITY[verdict] > _SEVERITY.get(
            worst.get(flag.track_id, ""), 0
        ):
            worst[flag.track_id] = verdict
    for track_id, review in reviews.items():
        if review.decision == "exclude":
            worst[track_id] = AI_CONFIRMED
    excluded = {t: v for t, v in worst.items() if v in (AI_CONFIRMED, AI_FLAGGED)}
    pending = frozenset(t for t, v in worst.items() if v == AI_REVIEW_PENDING)
    reported = frozenset(t for t, v in worst.items() if v == AI_REPORTED)
    return AiVerdicts(excluded=excluded, pending_review=pending, reported=reported)
