"""A curator's "clear" is bounded (issue 13, item 5): never over the rights holder's own flag,
and over a detector score at or above the exclusion threshold only with a second curator."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from pool.ai_status import AiRules
from pool.audit import read_audit
from pool.errors import ReviewRefusedError
from pool.model import AiFlag, AiReview
from pool.state import add_flag, load_serving_exclusions, record_review, review_queue
from tests.pool.conftest import NOW

RULES = AiRules(exclude_threshold=0.9, review_threshold=0.5)


def _flag(conn: sqlite3.Connection, track: str, source: str, score: float) -> None:
    add_flag(conn, AiFlag(track, source, score, NOW), by="feed", why="import", role="trust")


def _clear(conn: sqlite3.Connection, track: str, by: str, minutes: int = 1) -> str:
    review = AiReview(track, "clear", by, NOW + timedelta(minutes=minutes), f"{by} listened")
    return record_review(conn, review, rules=RULES)


def _withheld(conn: sqlite3.Connection) -> frozenset[str]:
    return load_serving_exclusions(conn, RULES).withheld()


def test_a_clear_never_overrides_the_rights_holders_flag(conn: sqlite3.Connection) -> None:
    _flag(conn, "t1", "label", 1.0)
    with pytest.raises(ReviewRefusedError, match="rights holder"):
        _clear(conn, "t1", "cora")
    assert "t1" in _withheld(conn)
    # Even a clear already on record (made before the label's flag arrived) does not lift it.
    _flag(conn, "t2", "detector", 0.6)
    assert _clear(conn, "t2", "cora") == "recorded"
    assert "t2" not in _withheld(conn)
    add_flag(conn, AiFlag("t2", "label", 1.0, NOW), by="label", why="ours", role="trust")
    assert "t2" in _withheld(conn)


def test_clearing_a_high_detector_score_takes_a_second_curator(
    conn: sqlite3.Connection,
) -> None:
    _flag(conn, "t1", "detector", 0.95)
    assert "t1" in _withheld(conn)
    assert _clear(conn, "t1", "cora") == "awaiting_second_approval"
    assert "t1" in _withheld(conn), "one curator's clear leaves it excluded"
    queue = {entry["track_id"]: entry for entry in review_queue(conn, RULES)}
    assert queue["t1"]["waiting_for"] == "second_approval"
    assert queue["t1"]["awaiting_second_approval"]["requested_by"] == "cora"
    with pytest.raises(ReviewRefusedError, match="second curator"):
        _clear(conn, "t1", "cora", minutes=2)
    assert "t1" in _withheld(conn)
    assert _clear(conn, "t1", "carl", minutes=3) == "recorded"
    assert "t1" not in _withheld(conn)
    assert "t1" not in {entry["track_id"] for entry in review_queue(conn, RULES)}
    records = [(e.actor, e.action) for e in read_audit(conn) if e.subject == "t1"]
    assert records[-2:] == [("cora", "flags.review_requested"), ("carl", "flags.review")]
    approval = [e for e in read_audit(conn) if e.action == "flags.review"][-1]
    assert approval.after == {"decision": "clear", "requested_by": "cora", "approved_by": "carl"}


def test_a_score_below_the_threshold_is_cleared_by_one_curator(
    conn: sqlite3.Connection,
) -> None:
    _flag(conn, "t1", "detector", 0.7)  # the review band: withheld until a curator decides
    assert "t1" in _withheld(conn)
    assert _clear(conn, "t1", "cora") == "recorded"
    assert "t1" not in _withheld(conn)


def test_an_exclude_withdraws_a_waiting_clear(conn: sqlite3.Connection) -> None:
    _flag(conn, "t1", "detector", 0.99)
    _clear(conn, "t1", "cora")
    review = AiReview("t1", "exclude", "carl", NOW + timedelta(minutes=5), "it is AI")
    assert record_review(conn, review, rules=RULES) == "recorded"
    assert "t1" in _withheld(conn)
    assert "t1" not in {entry["track_id"] for entry in review_queue(conn, RULES)}
    # A later clear starts over: it needs two curators again.
    assert _clear(conn, "t1", "carl", minutes=6) == "awaiting_second_approval"
