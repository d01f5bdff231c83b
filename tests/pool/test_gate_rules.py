"""One rule at a time: each track below breaks exactly one rule of the gate (or none)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pool.ai_status import AiRules
from pool.importer import load_current_pool
from tests.factories import DataDir, flag, import_trusted, track_row
from tests.pool.conftest import NOW


def _world() -> DataDir:
    data = DataDir()
    data.artist("ar_ok")
    data.artist("ar_feat")
    data.artist("ar_unverified", verified=False)
    data.tracks += [
        track_row("t_ok", ["ar_ok"]),
        track_row("t_assisted", ["ar_ok"], ai_declaration="assisted"),
        track_row("t_feat_ok", ["ar_ok", "ar_feat"]),
        track_row("t_unverified_main", ["ar_unverified"]),
        track_row("t_unverified_featured", ["ar_ok", "ar_unverified"]),
        track_row("t_untrusted_label", ["ar_ok"], label_id="lb2"),
        track_row("t_untrusted_partner", ["ar_ok"], partner="pt2"),
        track_row("t_generated", ["ar_ok"], ai_declaration="generated"),
        track_row("t_detector_high", ["ar_ok"]),
        track_row("t_detector_mid", ["ar_ok"]),
        track_row("t_detector_low", ["ar_ok"]),
        track_row("t_curator_flag", ["ar_ok"]),
        track_row("t_label_flag", ["ar_ok"]),
        track_row("t_listener_flag", ["ar_ok"]),
        track_row("t_taken_down", ["ar_ok"]),
        # A lying feed: it claims trust in fields the engine must ignore.
        track_row(
            "t_self_trusted",
            ["ar_unverified"],
            partner="pt2",
            label_id="lb2",
            trusted=True,
            verified=True,
            partner_trusted=True,
        ),
    ]
    data.flags += [
        flag("t_detector_high", "detector", 0.95),
        flag("t_detector_mid", "detector", 0.7),
        flag("t_detector_low", "detector", 0.2),
        flag("t_curator_flag", "curator", 1.0),
        flag("t_label_flag", "label", 1.0),
        flag("t_listener_flag", "listener", 0.99),
    ]
    data.takedowns.append(("t_taken_down", "copyright", "2026-11-02T00:00:00Z"))
    return data


EXPECTED = {
    "t_ok": (),
    "t_assisted": (),
    "t_feat_ok": (),
    "t_detector_low": (),
    "t_unverified_main": ("unverified_artist",),
    "t_unverified_featured": ("unverified_artist",),
    "t_untrusted_label": ("untrusted_label",),
    "t_untrusted_partner": ("untrusted_partner",),
    "t_generated": ("declared_generated",),
    "t_detector_high": ("ai_flagged",),
    "t_detector_mid": ("ai_review_pending",),
    "t_curator_flag": ("ai_confirmed",),
    "t_label_flag": ("ai_flagged",),
    "t_listener_flag": (),  # a listener report queues for review, withholds nothing
    "t_taken_down": ("taken_down",),
    "t_self_trusted": ("untrusted_partner", "untrusted_label", "unverified_artist"),
}


@pytest.fixture
def imported(tmp_path: Path, conn: sqlite3.Connection, state_dir: Path):  # type: ignore[no-untyped-def]
    data_dir = _world().write(tmp_path / "data")
    return import_trusted(conn, state_dir, data_dir, AiRules(), NOW)


@pytest.mark.parametrize("track_id", sorted(EXPECTED))
def test_each_track_gets_exactly_its_reasons(imported, track_id: str) -> None:  # type: ignore[no-untyped-def]
    report = imported.build.report
    assert report.rejected_tracks.get(track_id, ()) == EXPECTED[track_id]
    assert (track_id in imported.build.snapshot) == (EXPECTED[track_id] == ())


def test_report_counts_each_reason(imported) -> None:  # type: ignore[no-untyped-def]
    report = imported.build.report
    assert report.admitted == 5
    assert report.rejected_by_reason["unverified_artist"] == 3
    assert report.rejected_by_reason["ai_review_pending"] == 1
    assert report.catalog_tracks == len(EXPECTED)


def test_snapshot_holds_only_verified_artists(
    imported,
    conn: sqlite3.Connection,
    state_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    snapshot = load_current_pool(conn, state_dir)
    assert snapshot.version == imported.build.snapshot.version
    assert set(snapshot.artists) == {"ar_ok", "ar_feat"}
    assert set(snapshot.labels) == {"lb1"}


def test_stricter_threshold_from_config_excludes_mid_scores(
    tmp_path: Path, conn: sqlite3.Connection, state_dir: Path
) -> None:
    data_dir = _world().write(tmp_path / "data")
    result = import_trusted(conn, state_dir, data_dir, AiRules(exclude_threshold=0.6), NOW)
    assert result.build.report.rejected_tracks["t_detector_mid"] == ("ai_flagged",)
