from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pool.ai_status import AiRules, judge_ai_flags
from pool.model import AiFlag, AiReview

EARLY = datetime(2026, 11, 1, tzinfo=UTC)
REVIEWED = datetime(2026, 11, 10, tzinfo=UTC)
LATE = datetime(2026, 11, 20, tzinfo=UTC)


def test_detector_thresholds_are_inclusive() -> None:
    flags = [
        AiFlag("at", "detector", 0.9, EARLY),
        AiFlag("below", "detector", 0.8999, EARLY),
        AiFlag("review_edge", "detector", 0.5, EARLY),
        AiFlag("noise", "detector", 0.49, EARLY),
    ]
    verdicts = judge_ai_flags(flags, {}, AiRules())
    assert verdicts.reason_for("at") == "ai_flagged"
    assert verdicts.reason_for("below") == "ai_review_pending"
    assert verdicts.reason_for("review_edge") == "ai_review_pending"
    assert verdicts.reason_for("noise") is None


def test_listener_reports_queue_for_review_but_withhold_nothing() -> None:
    verdicts = judge_ai_flags([AiFlag("t", "listener", 1.0, EARLY)], {}, AiRules())
    assert verdicts.reason_for("t") is None
    assert verdicts.review_queue == {"t"}


def test_curator_clear_overrides_earlier_flags_but_not_later_evidence() -> None:
    clear = {"t": AiReview("t", "clear", "carol", REVIEWED, "human vocals, checked stems")}
    before = judge_ai_flags([AiFlag("t", "detector", 0.99, EARLY)], clear, AiRules())
    assert before.reason_for("t") is None
    after = judge_ai_flags(
        [AiFlag("t", "detector", 0.99, EARLY), AiFlag("t", "detector", 0.97, LATE)],
        clear,
        AiRules(),
    )
    assert after.reason_for("t") == "ai_flagged"


def test_curator_exclude_needs_no_flag() -> None:
    review = {"t": AiReview("t", "exclude", "carol", REVIEWED, "confirmed generated")}
    assert judge_ai_flags([], review, AiRules()).reason_for("t") == "ai_confirmed"


def test_worst_flag_wins() -> None:
    flags = [
        AiFlag("t", "listener", 0.6, EARLY),
        AiFlag("t", "curator", 1.0, EARLY),
        AiFlag("u", "listener", 0.9, EARLY),
        AiFlag("u", "detector", 0.6, EARLY),
    ]
    verdicts = judge_ai_flags(flags, {}, AiRules())
    assert verdicts.reason_for("t") == "ai_confirmed"
    assert verdicts.reason_for("u") == "ai_review_pending"


def test_inconsistent_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="review_threshold <= exclude_threshold"):
        AiRules(exclude_threshold=0.4, review_threshold=0.5)
