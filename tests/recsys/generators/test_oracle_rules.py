"""The oracle's repetition rules (``TrackRules``), its spread and interleave, and the final
filter's read-time repair, each on a hand-made list with a known answer. The compiled rules
themselves: ``test_repetition_rules``."""

from __future__ import annotations

import itertools

from recsys.domain.exclusions import UserExclusions
from recsys.domain.mix import MixTrack, Reason
from recsys.serving.final_filter import drop_back_to_back
from tests.oracle.track_rules import TrackRules, interleave, spread_artists

WHY = Reason("history", {"artist_id": "a"})


def t(track_id: str, *artists: str, slot: str = "familiar") -> MixTrack:
    return MixTrack(track_id, artists, track_id, WHY, slot)  # type: ignore[arg-type]


def ids(tracks: list[MixTrack]) -> list[str]:
    return [x.track_id for x in tracks]


def rules(**overrides: object) -> TrackRules:
    options: dict[str, object] = {
        "exclusions": UserExclusions(),
        "blocked": {},
        "isrc_of": lambda track_id: None,
        "recent": frozenset(),
        "familiar_cap": 2,
        "discovery_cap": 1,
    }
    return TrackRules(**(options | overrides))  # type: ignore[arg-type]


def test_recent_plays_stay_out_of_discovery_slots_only() -> None:
    assert rules(recent={"r"}).admit("r", ("a",), "a", "familiar")
    assert not rules(recent={"r"}).admit("r", ("b",), "b", "discovery")
    assert rules(recent={"r"}).admit("n", ("c",), "c", "discovery")


def test_one_pass_rules_refuse_what_the_mix_already_holds() -> None:
    isrc = {"t1": "GBAAA0000001", "t1-single": "GBAAA0000001"}
    mix = rules(isrc_of=isrc.get)
    assert mix.admit("t1", ("a",), "a", "familiar")
    assert not mix.admit("t1", ("b",), "b", "familiar")  # the same track
    assert not mix.admit("t1-single", ("b",), "b", "familiar")  # another version of it
    assert mix.admit("t2", ("a", "c"), "a", "familiar")
    assert not mix.admit("t3", ("c", "a"), "c", "familiar")  # a's cap of 2, featured counts
    assert mix.admit("t4", ("d",), "d", "discovery")
    assert not mix.admit("t5", ("d",), "d", "discovery")  # d's discovery cap of 1
    assert mix.admit("t5", ("d",), "d", "familiar")  # familiar slots have their own cap


def test_one_pass_rules_honour_exclusions_and_blocks() -> None:
    mix = rules(
        exclusions=UserExclusions(artists=frozenset({"x"}), tracks=frozenset({"t9"})),
        blocked={"a": frozenset({"b"})},
    )
    assert not mix.admit("t1", ("c", "x"), "c", "familiar")  # an excluded featured artist
    assert not mix.admit("t9", ("c",), "c", "familiar")  # an excluded track
    assert not mix.admit("t2", ("b",), "a", "discovery")  # via a, blocked with b
    assert mix.admit("t2", ("b",), "c", "discovery")
    assert mix.admit("t3", ("d",), "a", "familiar")


def test_spread_never_puts_an_artist_back_to_back() -> None:
    tracks = [t("1", "a"), t("2", "a"), t("3", "b"), t("4", "a", "c"), t("5", "d")]
    spread = spread_artists(tracks)
    assert ids(spread) == ["1", "3", "2", "5", "4"]
    for first, second in itertools.pairwise(spread):
        assert not set(first.artist_ids) & set(second.artist_ids)


def test_spread_drops_what_cannot_be_placed() -> None:
    assert ids(spread_artists([t("1", "a"), t("2", "a"), t("3", "a")])) == ["1"]


def test_read_time_repair_drops_without_reordering() -> None:
    assert ids(drop_back_to_back([t("1", "a"), t("2", "a"), t("3", "b"), t("4", "b")])) == [
        "1",
        "3",
    ]


def test_interleave_spreads_discoveries_evenly() -> None:
    familiar = [t(f"f{i}", f"a{i}") for i in range(6)]
    discovery = [t(f"d{i}", f"b{i}", slot="discovery") for i in range(2)]
    mixed = ids(interleave(familiar, discovery))
    assert mixed == ["f0", "f1", "d0", "f2", "f3", "f4", "d1", "f5"]
