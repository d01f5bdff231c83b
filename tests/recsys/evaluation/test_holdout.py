"""The discovery report of `recsys evaluate` on a data directory with holdout.csv: its figures
as pure functions (hand-checked), and the whole run on a tiny directory built here."""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.cli.command_context import CommandContext
from recsys.cli.evaluate_commands import add_parsers
from recsys.embeddings.als import AlsSettings
from recsys.engine.loading import load_engine
from recsys.errors import UsageError
from recsys.evaluation.hetrec_data_dir import HetrecWorldConfig, build_hetrec_data_dir
from recsys.evaluation.holdout import (
    FIGURES,
    SURFACES,
    als_new_artists,
    discovery_scores,
    format_holdout_report,
    in_place,
    mean_coherence,
    new_artists,
    play_matrix,
    read_holdout,
    surface_report,
)
from recsys.settings import Settings, load_settings
from recsys.state.schema import open_engine_state
from tests.recsys.evaluation.hetrec_folder import write_hetrec_folder
from tests.staff import trusted_training

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)

# ---------------------------------------------------------------------- the figures, by hand


def test_new_artists_are_the_unplayed_ones_in_order() -> None:
    mixes = [["a", "b"], ["b", "c", "a", "d"]]
    assert new_artists(mixes, {"a"}) == ["b", "c", "d"]
    assert new_artists([], {"a"}) == []


def test_precision_recall_and_count_by_hand() -> None:
    new = [["a", "b", "c", "d"], ["x"], []]
    holdout = [{"a", "c", "z"}, {"y"}, {"q", "r"}]
    scores = discovery_scores(new, holdout)
    # precision: listeners with a new artist only: (2/4 + 0/1) / 2
    assert scores["precision"] == pytest.approx(0.25)
    # recall: every listener: (2/3 + 0 + 0) / 3
    assert scores["recall"] == pytest.approx(2 / 9)
    assert scores["new_artists_per_listener"] == pytest.approx(5 / 3)
    assert scores["hits"] == 2
    with pytest.raises(ValueError, match="holdouts"):
        discovery_scores(new, holdout[:2])


def test_nothing_new_means_zero_not_an_error() -> None:
    assert discovery_scores([[], []], [{"a"}, {"b"}]) == {
        "precision": 0.0,
        "recall": 0.0,
        "new_artists_per_listener": 0.0,
        "hits": 0.0,
    }


def test_mean_coherence_by_hand() -> None:
    tags = {"a": {"x", "y"}, "b": {"x"}, "d": {"x"}}
    lists = [["a", "b"], ["a", "b", "c"], ["d"]]
    # [a, b]: 1/2; [a, b, c]: (1/2 + 0 + 0) / 3 (c untagged, but a and b are not); [d]: skipped
    assert mean_coherence(lists, tags) == pytest.approx((0.5 + 1 / 6) / 2)
    assert mean_coherence([["d"]], tags) == 0.0


def test_surface_report_compares_like_with_like() -> None:
    served = [[["a", "n1", "n2"]], [["b", "n3"]]]
    played = [{"a"}, {"b"}]
    holdout = [{"n1"}, {"n9"}]
    als = [["n1", "n9"], ["n9"]]
    tags = {"a": {"t"}, "n1": {"t"}, "n2": {"u"}, "b": {"t"}, "n3": {"t"}, "n9": {"t"}}
    report = surface_report(served, played, holdout, als, tags)
    assert report["engine"]["precision"] == pytest.approx((1 / 2 + 0) / 2)
    assert report["als"]["precision"] == pytest.approx((1 / 2 + 1) / 2)
    assert report["engine"]["new_artists_per_listener"] == 1.5
    assert report["ratio"]["precision"] == pytest.approx(0.25 / 0.75, abs=1e-4)
    assert report["ratio"]["new_artists_per_listener"] == 1.0
    assert report["engine"]["coherence"] == pytest.approx((1 / 3 + 1) / 2, abs=1e-4)
    assert report["als"]["coherence"] == 1.0  # [n9] alone is not measured
    # like with like: [a, n1, n9] and [b, n9], all tagged "t"
    assert report["als"]["coherence_in_place"] == 1.0
    assert report["engine"]["coherence_in_place"] == report["engine"]["coherence"]


def test_in_place_swaps_new_artists_slot_by_slot() -> None:
    mixes = [["a", "n1", "b", "n2"], ["n2", "c", "n3"]]
    assert in_place(mixes, ["n1", "n2", "n3"], ["x", "y", "z"]) == [
        ["a", "x", "b", "y"],
        ["y", "c", "z"],
    ]
    # fewer replacements: the rest go; a replacement already in the list is not repeated
    assert in_place(mixes, ["n1", "n2", "n3"], ["b"]) == [["a", "b"], ["c"]]


def test_als_new_artists_counts_and_never_a_played_artist() -> None:
    rng = np.random.default_rng(0)
    dense = (rng.random((40, 30)) < 0.2) * rng.integers(1, 50, (40, 30))
    plays = sp.csr_matrix(dense.astype(np.float32))
    settings = AlsSettings(factors=8, iterations=3, threads=1)
    counts = [i % 5 for i in range(40)]
    lists = als_new_artists(plays, settings, counts)
    assert [len(x) for x in lists] == counts
    for row, picks in enumerate(lists):
        assert not set(picks) & set(plays[row].indices.tolist())
    assert als_new_artists(plays, settings, counts) == lists
    assert als_new_artists(plays, settings, [0] * 40) == [[]] * 40


# --------------------------------------------------------------------------- holdout.csv


def test_read_holdout(tmp_path: Path) -> None:
    (tmp_path / "holdout.csv").write_text("user_id,artist_id\nu1,a1\nu1,a2\n\nu2,a1\n", "utf-8")
    assert read_holdout(tmp_path) == {"u1": frozenset({"a1", "a2"}), "u2": frozenset({"a1"})}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user,artist\nu1,a1\n", r"holdout\.csv:1: expected the header"),
        ("", r"holdout\.csv:1: expected the header"),
        ("user_id,artist_id\nu1,a1\nu1,a2,x\n", r"holdout\.csv:3: expected 2 fields"),
        ("user_id,artist_id\nu1, a1\n", r"holdout\.csv:2: field 'artist_id'"),
        ("user_id,artist_id\n,a1\n", r"holdout\.csv:2: field 'user_id'"),
    ],
)
def test_read_holdout_names_the_bad_line(text: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "holdout.csv").write_text(text, "utf-8")
    with pytest.raises(ValueError, match=message):
        read_holdout(tmp_path)


# ------------------------------------------------------------------------- the whole run


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(None, {}, tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hetrec = write_hetrec_folder(tmp_path_factory.mktemp("hetrec") / "lastfm", users=60)
    out = tmp_path_factory.mktemp("built") / "data"
    build_hetrec_data_dir(hetrec, out, HetrecWorldConfig(seed=1, today=TODAY))
    return out


def run(argv: list[str], settings: Settings) -> str:
    parser = argparse.ArgumentParser(prog="recsys")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out = io.StringIO()
    assert args.handler(args, CommandContext(settings=settings, now=NOW, out=out)) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def report(data_dir: Path, settings: Settings) -> dict[str, Any]:
    out = run(["evaluate", "--data", str(data_dir), "--json", "--today", "2026-11-26"], settings)
    return dict(json.loads(out))


def test_report_figures_have_their_documented_meaning(
    report: dict[str, Any], data_dir: Path
) -> None:
    people = report["listeners"]
    assert people["with_holdout"] == len(read_holdout(data_dir))
    assert people["evaluated"] + people["left_out"] == people["with_holdout"]
    assert people["evaluated"] > 0
    assert report["now"] == NOW.isoformat()
    assert report["rebuild"]["pool_rejected"] == 0
    for surface in SURFACES:
        block = report[surface]
        for side in ("engine", "als"):
            for figure in ("precision", "recall", "coherence"):
                assert 0.0 <= block[side][figure] <= 1.0, (surface, side, figure)
        # the baseline is held to the count of new artists each listener got
        assert (
            block["als"]["new_artists_per_listener"] == block["engine"]["new_artists_per_listener"]
        )
        for figure in FIGURES:
            if block["als"][figure]:
                expected = block["engine"][figure] / block["als"][figure]
                assert block["ratio"][figure] == pytest.approx(expected, abs=2e-3)
    assert report["mixes"]["engine"]["new_artists_per_listener"] > 0


def test_report_prints_as_a_table(report: dict[str, Any]) -> None:
    table = format_holdout_report(report)
    assert table.startswith("discovery: ")
    assert "plain ALS, same count" in table and "release radar" in table
    assert f"{report['mixes']['engine']['precision']:.4f}" in table


def test_holdout_directory_refuses_seeds(data_dir: Path, settings: Settings) -> None:
    with pytest.raises(UsageError, match="fixes its split"):
        run(["evaluate", "--data", str(data_dir), "--seeds", "1"], settings)


def test_a_broken_holdout_is_a_usage_error(
    data_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "catalog").symlink_to(data_dir / "catalog")
    (broken / "holdout.csv").write_text("user_id,artist_id\nu1,a1,zzz\n", "utf-8")
    with pytest.raises(UsageError, match=r"holdout\.csv:2"):
        run(["evaluate", "--data", str(broken)], settings)
    (broken / "holdout.csv").write_text("user_id,artist_id\n", "utf-8")
    with pytest.raises(UsageError, match="no held-out artists"):
        run(["evaluate", "--data", str(broken)], settings)


def test_play_matrix_is_the_one_the_engine_trained_on(
    data_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    local = replace(settings, state_dir=tmp_path / "state")
    conn = open_engine_state(local.state_dir)
    try:
        run_ = trusted_training(conn, local.state_dir, data_dir, local, NOW)
        engine = load_engine(conn, local.state_dir, local, NOW)
    finally:
        conn.close()
    plays, users, artists = play_matrix(engine)

    def cells(matrix: sp.csr_matrix, rows: list[str], cols: list[str]) -> dict[Any, float]:
        coo = matrix.tocoo()
        return {
            (rows[r], cols[c]): float(v)
            for r, c, v in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
        }

    trained = cells(run_.plays, list(run_.model.users.ids), list(run_.model.artists.ids))
    assert cells(plays, list(users.ids), list(artists.ids)) == trained
