"""Each fraud rule against a tiny log: one account that breaks it, genuine accounts that don't."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recsys.domain.vocabulary import Vocabulary
from recsys.listening.fraud import FraudRules, TrackFacts, screen_listens
from recsys.listening.reader import ListenLog

# Tracks 0-29: 30 genuine tracks on labels 0-2 by artists 0-9 (track t: artist t % 10, label
# t % 3); tracks 30-39: a farm's catalogue on label 3 by artist 10; artist 0 is the popular head.
N_TRACKS = 40
FACTS = TrackFacts(
    farm_like=np.array([False] * 30 + [True] * 10),
    label=np.array([t % 3 for t in range(30)] + [3] * 10, dtype=np.int64),
    artist=np.array([t % 10 for t in range(30)] + [10] * 10, dtype=np.int64),
)
FULL = 200_000  # a full play of a genuine track, in ms
RULES = FraudRules(min_plays_for_shares=20, duplicate_min_tracks=5, popular_artist_fraction=0.1)


class LogBuilder:
    def __init__(self) -> None:
        self.users = Vocabulary()
        self.rows: list[tuple[int, int, int, int, int]] = []

    def play(self, user: str, track: int, day: int, *, plays: int = 1, ms: int = FULL) -> None:
        self.rows.append((self.users.add(user), track, day, ms * plays, plays))

    def genuine(self, user: str, seed: int, days: int = 20) -> None:
        """A person: a few tracks a day across several artists, full plays, a repeat or two."""
        rng = np.random.default_rng(seed)
        for day in range(days):
            for track in rng.choice(30, size=4, replace=False):
                self.play(user, int(track), 20_000 + day, plays=int(rng.integers(1, 3)))

    def build(self) -> ListenLog:
        u, t, d, m, p = (np.array(col) for col in zip(*self.rows, strict=True))
        return ListenLog(
            self.users,
            Vocabulary(f"t{i}" for i in range(N_TRACKS)),
            u.astype(np.int32),
            t.astype(np.int32),
            d.astype(np.int32),
            m.astype(np.int64),
            p.astype(np.int32),
        )


def _flagged(builder: LogBuilder, rules: FraudRules = RULES) -> dict[str, tuple[str, ...]]:
    verdict = screen_listens(builder.build(), FACTS, rules)
    return {builder.users.id_of(u): r for u, r in verdict.rules_by_user.items()}


def _with_genuine(count: int = 6) -> LogBuilder:
    builder = LogBuilder()
    for i in range(count):
        builder.genuine(f"person{i}", seed=i)
    return builder


def test_genuine_listeners_are_not_flagged() -> None:
    assert _flagged(_with_genuine()) == {}


def test_daily_plays_beyond_a_human_day() -> None:
    builder = _with_genuine()
    for track in range(30):
        builder.play("insomniac_bot", track, 20_001, plays=15)  # 450 plays in one day
    flagged = _flagged(builder)
    assert set(flagged) == {"insomniac_bot"}
    assert "daily_plays" in flagged["insomniac_bot"]


def test_loops_on_several_days_flag_but_one_binge_is_only_capped() -> None:
    builder = _with_genuine()
    builder.genuine("binge_fan", seed=99)
    binge_row = len(builder.rows)
    builder.play("binge_fan", 3, 20_005, plays=60)
    builder.genuine("looper", seed=98)
    for day in range(4):
        builder.play("looper", 7, 20_000 + day, plays=45)
    verdict = screen_listens(builder.build(), FACTS, RULES)
    flagged = {builder.users.id_of(u): r for u, r in verdict.rules_by_user.items()}
    assert set(flagged) == {"looper"}
    assert flagged["looper"] == ("track_loops",)
    assert builder.rows[binge_row][4] == 60
    assert verdict.capped_plays[binge_row] == RULES.max_track_plays_per_day


def test_short_plays_just_past_thirty_seconds() -> None:
    builder = _with_genuine()
    for day in range(10):
        for track in range(8):
            builder.play("royalty_bot", track, 20_000 + day, ms=31_000)
    assert _flagged(builder) == {"royalty_bot": ("short_plays",)}


def test_farm_concentration() -> None:
    builder = _with_genuine()
    for day in range(10):
        for track in range(30, 36):
            builder.play("farm_fan", track, 20_000 + day)  # full plays, farm tracks only
        builder.play("farm_fan", day, 20_000 + day)
    flagged = _flagged(builder)
    assert "farm_concentration" in flagged["farm_fan"]
    assert set(flagged) == {"farm_fan"}


def test_bandwagon_profile() -> None:
    builder = _with_genuine()
    # artist 7's tracks (7, 17, 27) pushed, covered by artist 0 (the head: every person plays it)
    for day in range(10):
        builder.play("bandwagon", 7 + 10 * (day % 3), 20_000 + day, plays=3)
        builder.play("bandwagon", 10 * (day % 3), 20_000 + day, plays=2)
    flagged = _flagged(builder, replace(RULES, max_label_share=1.0))
    assert flagged == {"bandwagon": ("bandwagon",)}


def test_near_identical_histories_form_a_group() -> None:
    builder = _with_genuine()
    template = [(int(t), 20_000 + d) for d in range(6) for t in (d, d + 5, d + 11)]
    for member in range(4):
        for index, (track, day) in enumerate(template):
            if (index + member) % 9 != 0:  # each copy drops a different row or two
                builder.play(f"farm_account{member}", track, day)
    flagged = _flagged(builder)
    assert set(flagged) == {f"farm_account{m}" for m in range(4)}
    assert all(r == ("duplicate_histories",) for r in flagged.values())


def test_groups_smaller_than_the_minimum_are_left_alone() -> None:
    builder = _with_genuine()
    template = [(int(t), 20_000 + d) for d in range(6) for t in (d, d + 5, d + 11)]
    for member in range(2):
        for track, day in template:
            builder.play(f"twin{member}", track, day)
    assert _flagged(builder) == {}


@pytest.mark.parametrize("rule_off", ["max_short_play_share", "max_farm_share"])
def test_each_share_rule_can_be_switched_off_by_configuration(rule_off: str) -> None:
    builder = _with_genuine()
    for day in range(10):
        for track in range(30, 38):
            builder.play("farm_bot", track, 20_000 + day, ms=31_000)
    both = _flagged(builder)["farm_bot"]
    assert {"short_plays", "farm_concentration"} <= set(both)
    relaxed = _flagged(builder, replace(RULES, **{rule_off: 1.01}))["farm_bot"]
    assert len(relaxed) == len(both) - 1
