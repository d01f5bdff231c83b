"""The final filter on a stored mix: a flag, takedown or revocation takes effect at read."""

from __future__ import annotations

from datetime import UTC, datetime

from pool.ai_status import AiVerdicts
from pool.gate import ServingExclusions
from recsys.domain.mix import Mix, MixTrack, Reason
from recsys.generators.steps import UserExclusions
from recsys.serving.final_filter import ServingGate, final_filter

AT = datetime(2026, 11, 26, tzinfo=UTC)
WHY = Reason("history", {"artist_id": "a"})


def _mix(*tracks: tuple[str, str]) -> Mix:
    return Mix(
        "m1",
        "mix",
        "Mix 1: A and more",
        AT,
        "pool-1",
        "als-1",
        tuple(MixTrack(i, (a,), i, WHY) for i, a in tracks),
    )


def _gate(
    *,
    excluded: dict[str, str] | None = None,
    taken_down: frozenset[str] = frozenset(),
    pool: frozenset[str] = frozenset({"t1", "t2", "t3", "t4", "t_pending"}),
) -> ServingGate:
    verdicts = AiVerdicts(excluded=excluded or {}, pending_review=frozenset({"t_pending"}))
    return ServingGate("pool-1", pool, ServingExclusions(verdicts, taken_down))


def test_a_clean_mix_passes_unchanged() -> None:
    mix = _mix(("t1", "a"), ("t2", "b"), ("t3", "c"))
    assert final_filter(mix, _gate()) == (mix, {})


def test_flags_takedowns_and_pool_exits_are_removed_with_counts() -> None:
    mix = _mix(
        ("t1", "a"), ("t2", "b"), ("t3", "c"), ("t4", "d"), ("t_gone", "e"), ("t_pending", "f")
    )
    filtered, dropped = final_filter(
        mix, _gate(excluded={"t2": "ai_flagged"}, taken_down=frozenset({"t3"}))
    )
    assert [t.track_id for t in filtered.tracks] == ["t1", "t4"]
    assert dropped == {"ai_flagged": 1, "taken_down": 1, "not_in_pool": 1, "ai_review_pending": 1}


def test_removals_never_leave_an_artist_back_to_back() -> None:
    mix = _mix(("t1", "a"), ("t2", "b"), ("t3", "a"), ("t4", "c"))
    filtered, dropped = final_filter(mix, _gate(excluded={"t2": "ai_confirmed"}))
    assert [t.track_id for t in filtered.tracks] == ["t1", "t4"]
    assert dropped["back_to_back_after_removal"] == 1


def test_the_listeners_exclusions_apply_at_read() -> None:
    mix = _mix(("t1", "a"), ("t2", "b"), ("t3", "c"))
    filtered, dropped = final_filter(mix, _gate(), UserExclusions(artists=frozenset({"b"})))
    assert [t.track_id for t in filtered.tracks] == ["t1", "t3"]
    assert dropped == {"user_exclusion": 1}
