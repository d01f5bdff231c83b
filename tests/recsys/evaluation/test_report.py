"""The offline quality report and `recsys evaluate`, on a tiny generated world and a tiny
hetrec-format folder written here (never the real data set: that is a benchmark, not a test)."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.cli.command_context import CommandContext
from recsys.cli.evaluate_commands import add_parsers, run_evaluate
from recsys.errors import UsageError
from recsys.evaluation import load_hetrec
from recsys.evaluation.report import (
    METRICS,
    MIX_BLOCKS,
    RANKERS,
    evaluate_data_dir,
    evaluate_hetrec,
    format_report,
    is_data_dir,
    top_tag_sets,
)
from recsys.settings import Settings, load_settings
from recsys.world import WorldConfig, generate_world
from tests.recsys.evaluation.hetrec_folder import SCENES, write_hetrec_folder

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
SEEDS = [1, 2]
USERS = 120
ARTISTS_PER_GENRE = 12


def write_hetrec(folder: Path) -> Path:
    """A hetrec-format folder with four clear scenes: listeners stay mostly in one scene and tag
    the artists they play with its tags, so any working model beats popularity."""
    return write_hetrec_folder(
        folder,
        USERS,
        artists_per_scene=ARTISTS_PER_GENRE,
        own=8,
        other=2,
        plays=(4.0, 1.0),
        tag_share=0.5,
        heavy_plays=None,
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(None, {}, tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="module")
def hetrec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hetrec(tmp_path_factory.mktemp("hetrec") / "lastfm")


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("world") / "data"
    generate_world(data, WorldConfig(users=400, artists=60, seed=2, today=date(2026, 11, 26)))
    return data


@pytest.fixture(scope="module")
def hetrec_report(hetrec_dir: Path, settings: Settings) -> dict[str, Any]:
    return evaluate_hetrec(load_hetrec(hetrec_dir), settings, SEEDS)


@pytest.fixture(scope="module")
def world_report(world_dir: Path, settings: Settings) -> dict[str, Any]:
    return evaluate_data_dir(world_dir, settings, SEEDS, NOW)


def assert_report_shape(report: dict[str, Any]) -> None:
    """The pinned keys (SPEC section 4 and the lead's brief), every figure a fraction."""
    assert {*RANKERS, *MIX_BLOCKS, "seeds", "per_seed"} <= set(report)
    assert report["seeds"] == SEEDS
    assert set(report["per_seed"]) == {str(s) for s in SEEDS}
    for name in RANKERS:
        assert set(report[name]) == {"precision@10", "ndcg@10", "coherence"}
    for name in MIX_BLOCKS:
        assert set(report[name]) == {"coherence"}
    for name in (*RANKERS, *MIX_BLOCKS):
        for metric, value in report[name].items():
            assert isinstance(value, float)
            assert 0.0 <= value <= 1.0, (name, metric, value)
            per_seed = [report["per_seed"][str(s)][name][metric] for s in SEEDS]
            # the top-level figure is the mean over the seeds (both rounded to 4 places)
            assert value == pytest.approx(np.mean(per_seed), abs=1e-4)
    json.dumps(report)  # `--json` prints it as is


def test_hetrec_report_has_the_pinned_keys_and_fractions(hetrec_report: dict[str, Any]) -> None:
    assert_report_shape(hetrec_report)
    assert hetrec_report["data"] == {
        "kind": "hetrec2011-lastfm-2k",
        "users": USERS,
        "artists": len(SCENES) * ARTISTS_PER_GENRE,
        "pairs": hetrec_report["data"]["pairs"],
    }


def test_hetrec_models_learn_the_scenes(hetrec_report: dict[str, Any]) -> None:
    # In four clean scenes the engine (which also sees the scene tags) must beat both "most
    # listened" and plain ALS (whose tuned regularisation is heavy for 120 listeners), and its
    # lists and mixes must stay inside a scene more than popularity's (which ignore the listener).
    for name in ("als", "popularity"):
        assert hetrec_report["engine"]["precision@10"] > hetrec_report[name]["precision@10"]
        assert hetrec_report["engine"]["ndcg@10"] > hetrec_report[name]["ndcg@10"]
    assert hetrec_report["engine"]["coherence"] > hetrec_report["popularity"]["coherence"]
    assert hetrec_report["mixes"]["coherence"] > hetrec_report["popularity"]["coherence"]


def test_hetrec_report_is_deterministic(
    hetrec_dir: Path, settings: Settings, hetrec_report: dict[str, Any]
) -> None:
    again = evaluate_hetrec(load_hetrec(hetrec_dir), settings, SEEDS)
    assert again == hetrec_report
    other = evaluate_hetrec(load_hetrec(hetrec_dir), settings, [3])
    assert other["per_seed"].keys() == {"3"}
    assert other["engine"] != hetrec_report["per_seed"]["1"]["engine"]  # the seed matters


def test_world_report_has_the_pinned_keys_and_fractions(world_report: dict[str, Any]) -> None:
    assert_report_shape(world_report)
    data = world_report["data"]
    assert data["kind"] == "data directory"
    assert data["users"] > 0 and data["artists"] > 0 and data["pairs"] > data["users"]
    assert world_report["engine"]["precision@10"] > 0
    assert world_report["engine"]["coherence"] > world_report["popularity"]["coherence"]


def test_world_report_is_deterministic(
    world_dir: Path, settings: Settings, world_report: dict[str, Any]
) -> None:
    assert evaluate_data_dir(world_dir, settings, SEEDS, NOW) == world_report


def test_top_tag_sets_keep_the_most_frequent_ties_by_name() -> None:
    counts = sp.csr_matrix(np.array([[3, 1, 1, 0], [0, 0, 0, 0], [2, 2, 0, 5]], dtype=np.float32))
    names = ["rock", "zzz", "aaa", "pop"]
    assert top_tag_sets(counts, names, top=2) == [
        frozenset({"rock", "aaa"}),
        frozenset(),
        frozenset({"pop", "rock"}),
    ]


def test_format_report_shows_every_ranker(hetrec_report: dict[str, Any]) -> None:
    table = format_report(hetrec_report)
    lines = table.splitlines()
    assert all(metric in lines[1] for metric in METRICS)
    for name in (*RANKERS, "mixes"):
        row = next(line for line in lines if line.startswith(name))
        assert f"{hetrec_report[name]['coherence']:.4f}" in row
    assert f"{hetrec_report['engine']['precision@10']:.4f}" in table


# ------------------------------------------------------------------------------------ command


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="recsys")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def run(argv: list[str], settings: Settings) -> str:
    out = io.StringIO()
    args = parse(argv)
    assert args.handler(args, CommandContext(settings=settings, now=NOW, out=out)) == 0
    return out.getvalue()


def test_evaluate_json_prints_one_object(world_dir: Path, settings: Settings) -> None:
    out = run(["evaluate", "--data", str(world_dir), "--json", "--seeds", "1", "2"], settings)
    report = json.loads(out)  # exactly one JSON document, nothing else on stdout
    assert_report_shape(report)


def test_evaluate_prints_a_table(hetrec_dir: Path, settings: Settings) -> None:
    out = run(["evaluate", "--data", str(hetrec_dir), "--seeds", "1"], settings)
    assert out.startswith("hetrec2011-lastfm-2k: ")
    assert "engine" in out and "popularity" in out


def test_evaluate_defaults_to_seeds_one_to_three(tmp_path: Path) -> None:
    args = parse(["evaluate", "--data", str(tmp_path)])
    assert args.seeds == [1, 2, 3] and args.json is False and args.handler is run_evaluate


@pytest.mark.parametrize("seed", ["-1", "x"])
def test_evaluate_rejects_bad_seeds(seed: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse(["evaluate", "--data", str(tmp_path), "--seeds", seed])


def test_evaluate_rejects_a_missing_or_unknown_folder(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(UsageError, match="no such directory"):
        run(["evaluate", "--data", str(tmp_path / "nope")], settings)
    (tmp_path / "readme.txt").write_text("not data")
    assert not is_data_dir(tmp_path)
    with pytest.raises(UsageError, match="neither the hetrec2011-lastfm-2k folder"):
        run(["evaluate", "--data", str(tmp_path)], settings)


def test_evaluate_reports_a_broken_hetrec_file_as_usage(tmp_path: Path, settings: Settings) -> None:
    folder = write_hetrec(tmp_path / "broken")
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n1\t100\n")
    with pytest.raises(UsageError, match=r"user_artists\.dat:2"):
        run(["evaluate", "--data", str(folder)], settings)
