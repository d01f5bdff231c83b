"""`recsys generate-world --from-hetrec`: a data directory with a holdout from a hetrec folder,
on a tiny folder written here (never the real data set)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recsys.cli.command_context import CommandContext
from recsys.cli.world_commands import add_parsers
from recsys.errors import UsageError
from recsys.evaluation.hetrec import load_hetrec
from recsys.evaluation.hetrec_data_dir import (
    HetrecWorldConfig,
    build_hetrec_data_dir,
    day_layout,
    listener_rows,
    scale_to_budget,
    share_over_tracks,
)
from recsys.evaluation.holdout import read_holdout
from recsys.evaluation.split import n_test_items
from recsys.settings import Settings, load_settings
from recsys.state.schema import open_engine_state
from tests.recsys.cli_runner import run_cli
from tests.recsys.evaluation.hetrec_folder import HEAVY_USER, write_hetrec_folder
from tests.staff import trusted_training

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
CONFIG = HetrecWorldConfig(seed=1, today=TODAY)


@pytest.fixture(scope="module")
def hetrec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hetrec_folder(tmp_path_factory.mktemp("hetrec") / "lastfm")


@pytest.fixture(scope="module")
def built(hetrec: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("built") / "data"
    return out, build_hetrec_data_dir(hetrec, out, CONFIG)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(None, {}, tmp_path_factory.mktemp("cwd"))


def table(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def listens(data: Path) -> list[dict[str, str]]:
    return [row for path in sorted((data / "listens").glob("*.csv")) for row in table(path)]


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# ------------------------------------------------------------------------- the directory


def test_the_pipeline_imports_it_without_a_rejected_row(
    built: tuple[Path, dict[str, Any]], settings: Settings, tmp_path: Path
) -> None:
    data, summary = built
    local = replace(settings, state_dir=tmp_path / "state")
    conn = open_engine_state(local.state_dir)
    try:
        run = trusted_training(conn, local.state_dir, data, local, NOW)
    finally:
        conn.close()
    report = run.pool.build.report
    assert report.admitted == report.catalog_tracks == summary["tracks"] == 40 * 3
    assert not report.rejected_tracks and not report.issues
    assert run.listens.bad_rows == 0 and run.listens.unknown_track_rows == 0
    assert run.listens.kept_rows == summary["listen_rows"]
    assert not run.feed_issues
    # every listener the screen kept is trained on: the plays are a person's
    assert run.fraud.summary(run.fraud_users)["accounts_by_rule"]["track_loops"] == 0
    assert run.fraud.summary(run.fraud_users)["accounts_by_rule"]["daily_plays"] == 0
    assert run.fraud.summary(run.fraud_users)["accounts_by_rule"]["label_concentration"] == 0


def test_holdout_is_a_fifth_of_each_listener_and_never_in_the_listens(
    built: tuple[Path, dict[str, Any]], hetrec: Path
) -> None:
    data, summary = built
    source = load_hetrec(hetrec)
    pairs_per_user = dict(zip(source.user_ids, np.diff(source.plays.indptr).tolist(), strict=True))
    held = read_holdout(data)
    assert sum(len(a) for a in held.values()) == summary["holdout_pairs"]
    for user, count in pairs_per_user.items():
        assert len(held.get(f"lfm-u{user}", ())) == n_test_items(count)
    tracks = {t["track_id"]: t["artist_ids"][0] for t in jsonl(data / "catalog/tracks.jsonl")}
    listened: dict[str, set[str]] = defaultdict(set)
    for row in listens(data):
        listened[row["user_id"]].add(tracks[row["track_id"]])
    for user, artists in held.items():
        assert artists.isdisjoint(listened[user]), user
    # the listens hold every other pair: train + holdout = the data set's pairs
    assert sum(len(a) for a in listened.values()) == summary["train_pairs"]
    assert summary["train_pairs"] + summary["holdout_pairs"] == source.plays.nnz


def test_a_validation_directory_never_holds_a_test_pair(
    built: tuple[Path, dict[str, Any]], hetrec: Path, tmp_path: Path, settings: Settings
) -> None:
    """``--validation``: the test pairs are in neither the listens nor the holdout; the
    holdout is a validation split of the training pairs, disjoint from the listens."""
    test_dir, _ = built
    test_pairs = read_holdout(test_dir)
    out = tmp_path / "validation"
    summary = run(
        ["generate-world", "--from-hetrec", str(hetrec), "--seed", "1", "--validation", str(out)],
        settings,
    )
    assert summary["holdout"] == "validation" and summary["holdout_pairs"] > 0
    tracks = {t["track_id"]: t["artist_ids"][0] for t in jsonl(out / "catalog/tracks.jsonl")}
    listened: dict[str, set[str]] = defaultdict(set)
    for row in listens(out):
        listened[row["user_id"]].add(tracks[row["track_id"]])
    held = read_holdout(out)
    for user, artists in held.items():
        assert artists.isdisjoint(listened[user]) and artists.isdisjoint(test_pairs.get(user, ()))
    for user, artists in test_pairs.items():
        assert artists.isdisjoint(listened[user]), user
    source = load_hetrec(hetrec)
    assert (
        summary["train_pairs"] + summary["holdout_pairs"] + sum(len(a) for a in test_pairs.values())
        == source.plays.nnz
    )
    with pytest.raises(UsageError, match="--validation only applies"):
        run(["generate-world", "--seed", "1", "--validation", str(tmp_path / "x")], settings)


def test_plays_per_day_are_a_persons(built: tuple[Path, dict[str, Any]]) -> None:
    data, _ = built
    per_day: Counter[tuple[str, str]] = Counter()
    per_track_day: Counter[tuple[str, str, str]] = Counter()
    first = (TODAY - timedelta(days=CONFIG.listen_days)).isoformat()
    for row in listens(data):
        day = row["played_at"][:10]
        assert first <= day < TODAY.isoformat()
        assert row["played_at"].endswith("Z")
        per_day[row["user_id"], day] += int(row["plays"])
        per_track_day[row["user_id"], row["track_id"], day] += int(row["plays"])
    assert max(per_day.values()) <= CONFIG.max_plays_per_day
    # one row per (listener, track, day), never more than the loop limit on a track
    assert all(v <= CONFIG.track_plays_per_day for v in per_track_day.values())
    assert len(per_track_day) == len(listens(data))


def test_a_heavy_listener_is_scaled_to_the_cap_not_truncated(
    built: tuple[Path, dict[str, Any]], hetrec: Path
) -> None:
    data, _ = built
    tracks = {t["track_id"]: t["artist_ids"][0] for t in jsonl(data / "catalog/tracks.jsonl")}
    plays: Counter[str] = Counter()
    for row in listens(data):
        if row["user_id"] == f"lfm-u{HEAVY_USER}":
            plays[tracks[row["track_id"]]] += int(row["plays"])
    assert sum(plays.values()) <= CONFIG.budget
    assert sum(plays.values()) > CONFIG.budget * 0.9
    # the fan's artist keeps the lion's share, every other artist at least one play
    assert plays.most_common(1)[0][1] > sum(plays.values()) * 0.9
    assert min(plays.values()) >= 1
    # ms_played is the full track each time
    durations = {t["track_id"]: t["duration_ms"] for t in jsonl(data / "catalog/tracks.jsonl")}
    for row in listens(data)[:200]:
        assert int(row["ms_played"]) == int(row["plays"]) * durations[row["track_id"]]


def test_catalogue_trust_and_releases(built: tuple[Path, dict[str, Any]]) -> None:
    data, _ = built
    artists = jsonl(data / "catalog/artists.jsonl")
    tracks = jsonl(data / "catalog/tracks.jsonl")
    assert [a["name"] for a in artists[:2]] == ["Metal Artist 0", "Metal Artist 1"]
    assert tracks[0]["title"] == "Metal Artist 0 track 1"
    assert len({t["isrc"] for t in tracks}) == len(tracks)
    assert {t["ai_declaration"] for t in tracks} == {"none"}
    days = [(TODAY - date.fromisoformat(t["release_date"])).days for t in tracks]
    assert min(days) >= 0 and max(days) < CONFIG.listen_days
    assert any(d < CONFIG.recent_release_days for d in days)
    # tags are the scene's: what coherence measures
    assert set(tracks[0]["tags"]) <= {"metal", "heavy", "guitar"}
    verified = {r["artist_id"] for r in table(data / "trust/artists.csv")}
    assert verified == {a["artist_id"] for a in artists}
    labels = {r["label_id"] for r in table(data / "trust/labels.csv")}
    assert {t["label_id"] for t in tracks} <= labels
    assert [p["partner_id"] for p in table(data / "trust/partners.csv")] == ["hetrec2011"]


def test_held_out_pairs_tags_stay_out_of_the_catalogue(tmp_path: Path) -> None:
    """A tag only a held-out pair carries would tell the engine about the holdout."""
    folder = write_hetrec_folder(tmp_path / "lastfm", users=12)
    tagged = (folder / "user_taggedartists.dat").read_text("utf-8")
    summary = build_hetrec_data_dir(folder, tmp_path / "probe", CONFIG)
    held = read_holdout(tmp_path / "probe")
    user, artists = next(iter(sorted(held.items())))
    artist = sorted(artists)[0]
    extra = f"{user.removeprefix('lfm-u')}\t{artist.removeprefix('lfm-a')}\t99\t1\t1\t2010\n"
    tags = (folder / "tags.dat").read_text("utf-8") + "99\tleaky\n"
    (folder / "tags.dat").write_text(tags, "utf-8")
    (folder / "user_taggedartists.dat").write_text(tagged + extra, "utf-8")
    build_hetrec_data_dir(folder, tmp_path / "again", CONFIG)
    assert summary["holdout_pairs"] > 0
    assert not any("leaky" in t["tags"] for t in jsonl(tmp_path / "again/catalog/tracks.jsonl"))


def test_same_seed_same_bytes_other_seed_other_split(hetrec: Path, tmp_path: Path) -> None:
    first = build_hetrec_data_dir(hetrec, tmp_path / "a", CONFIG)
    assert build_hetrec_data_dir(hetrec, tmp_path / "b", CONFIG) == first
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    build_hetrec_data_dir(hetrec, tmp_path / "c", replace(CONFIG, seed=2))
    assert read_holdout(tmp_path / "c") != read_holdout(tmp_path / "a")


# ------------------------------------------------------------------------- the pure parts


def test_scale_to_budget_keeps_the_order_and_a_play_each() -> None:
    plays = np.array([200_000, 50, 3, 1], dtype=np.int64)
    scaled = scale_to_budget(plays, 1_000)
    assert scaled.sum() <= 1_000 and scaled.min() >= 1
    assert list(np.argsort(-scaled, kind="stable")) == [0, 1, 2, 3]
    small = np.array([10, 20], dtype=np.int64)
    assert scale_to_budget(small, 1_000) is small
    with pytest.raises(ValueError, match="pairs"):
        scale_to_budget(np.ones(5, dtype=np.int64) * 10, 3)


def test_day_layout_caps_every_day_and_keeps_every_play() -> None:
    sizes = np.array([30, 30, 7, 1, 30, 12], dtype=np.int64)
    sitting, day, plays, slots = day_layout(sizes, max_per_day=40, days=3)
    assert slots == 3  # more sittings than days: every day is used
    assert np.bincount(sitting, weights=plays).tolist() == sizes.tolist()
    assert np.bincount(day, weights=plays).max() <= 40
    # as many days as sittings when the year allows it, the plays spread evenly over them
    sitting, day, plays, slots = day_layout(sizes, max_per_day=40, days=30)
    assert slots == 6
    assert np.bincount(day, weights=plays).tolist() == [18, 18, 19, 18, 18, 19]
    assert np.bincount(sitting, weights=plays).tolist() == sizes.tolist()
    with pytest.raises(ValueError, match="do not fit"):
        day_layout(sizes, max_per_day=10, days=3)


def test_share_over_tracks_uses_the_fewest_tracks() -> None:
    shares = share_over_tracks(np.array([1, 30, 31, 90]), 3, 30, np.array([2, 0, 1, 0]))
    assert shares.tolist() == [[0, 0, 1], [30, 0, 0], [0, 16, 15], [30, 30, 30]]
    with pytest.raises(ValueError, match="do not fit"):
        share_over_tracks(np.array([91]), 3, 30, np.array([0]))


def test_listener_rows_are_seeded() -> None:
    artists = np.array([3, 7], dtype=np.int64)
    plays = np.array([500, 2], dtype=np.int64)
    one = listener_rows(artists, plays, CONFIG, np.random.default_rng(5))
    two = listener_rows(artists, plays, CONFIG, np.random.default_rng(5))
    assert one.track.tolist() == two.track.tolist() and one.day.tolist() == two.day.tolist()
    assert int(one.plays.sum()) == 502
    assert set((one.track // CONFIG.tracks_per_artist).tolist()) == {3, 7}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_plays_per_day": 91}, "does not fit"),
        ({"session_plays": 0}, "session_plays"),
        ({"seed": -1}, "seed"),
        ({"recent_release_days": 400}, "recent_release_days"),
    ],
)
def test_config_refuses_what_it_cannot_honour(change: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(CONFIG, **change)


# -------------------------------------------------------------------------------- command


def run(argv: list[str], settings: Settings) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="recsys")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out = io.StringIO()
    assert args.handler(args, CommandContext(settings=settings, now=NOW, out=out)) == 0
    return dict(json.loads(out.getvalue()))


def test_command_builds_from_hetrec(hetrec: Path, tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "data"
    printed = run(
        ["generate-world", "--from-hetrec", str(hetrec), "--seed", "1", str(out)], settings
    )
    assert printed["out"] == str(out) and printed["today"] == TODAY.isoformat()
    assert printed["seed"] == 1 and (out / "holdout.csv").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--users", "10"], "--users only size a synthetic world"),
        (["--artists", "10"], "--artists only size a synthetic world"),
        (["--seed", "-3"], "seed must be non-negative"),
    ],
)
def test_command_refuses_synthetic_options_with_hetrec(
    argv: list[str], message: str, hetrec: Path, tmp_path: Path, settings: Settings
) -> None:
    base = ["generate-world", "--from-hetrec", str(hetrec), str(tmp_path / "x")]
    seed = [] if "--seed" in argv else ["--seed", "1"]
    with pytest.raises(UsageError, match=message):
        run([*base, *seed, *argv], settings)


def test_synthetic_mode_still_needs_its_sizes(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(UsageError, match="needs --users and --artists"):
        run(["generate-world", "--seed", "1", str(tmp_path / "x")], settings)
    with pytest.raises(UsageError, match="needs --artists"):
        run(["generate-world", "--seed", "1", "--users", "60", str(tmp_path / "x")], settings)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("user_artists.dat", "userID\tartistID\tweight\n1\t100\n", r"user_artists\.dat:2"),
        ("user_artists.dat", "userID\tartistID\tweight\n1\t100\tmany\n", r"user_artists\.dat:2"),
        ("user_artists.dat", "userID\tartistID\tweight\n1,2\t100\t5\n", "not a plain id"),
        ("artists.dat", "id\tname\turl\tpictureURL\n100\n", r"artists\.dat:2"),
        ("user_taggedartists.dat", "h\n1\t100\n", r"user_taggedartists\.dat:2"),
    ],
)
def test_bad_hetrec_input_is_one_line_naming_file_and_line(
    name: str, text: str, message: str, tmp_path: Path, settings: Settings
) -> None:
    folder = write_hetrec_folder(tmp_path / "lastfm", users=6)
    (folder / name).write_text(text, "utf-8")
    out = tmp_path / "out"
    with pytest.raises(UsageError, match=message) as caught:
        run(["generate-world", "--from-hetrec", str(folder), "--seed", "1", str(out)], settings)
    assert "\n" not in str(caught.value)
    assert not out.exists()  # nothing written before the input is known good


def test_missing_file_or_folder_is_named(tmp_path: Path, settings: Settings) -> None:
    folder = write_hetrec_folder(tmp_path / "lastfm", users=6)
    (folder / "tags.dat").unlink()
    argv = ["generate-world", "--seed", "1", str(tmp_path / "out"), "--from-hetrec"]
    with pytest.raises(UsageError, match=r"tags\.dat: missing file"):
        run([*argv, str(folder)], settings)
    with pytest.raises(UsageError, match="no such directory"):
        run([*argv, str(tmp_path / "nowhere")], settings)


def test_refuses_a_non_empty_output(hetrec: Path, tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine", "utf-8")
    with pytest.raises(UsageError, match="not empty"):
        run(["generate-world", "--from-hetrec", str(hetrec), "--seed", "1", str(out)], settings)


def test_the_real_command_line_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    folder = write_hetrec_folder(tmp_path / "lastfm", users=6)
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n1\t100\t5\n1\n", "utf-8")
    result = run_cli(
        "generate-world",
        "--from-hetrec",
        folder,
        "--seed",
        "1",
        tmp_path / "out",
        state_dir=tmp_path / "state",
    )
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"recsys: error: {folder / 'user_artists.dat'}:3: expected 3 tab-separated fields, "
        "got 1: '1'"
    ]
