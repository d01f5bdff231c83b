"""The newcomer's first command, and the pool of a generated world against its truth file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from pool.ai_status import AiRules
from pool.state import open_state
from recsys.world import WorldConfig, generate_world
from tests.factories import import_trusted
from tests.recsys.cli_runner import run_cli


def test_recsys_demo_runs_the_pipeline_and_explains_each_track(tmp_path: Path) -> None:
    result = run_cli(
        "demo",
        state_dir=tmp_path / "state",
        env={"RECSYS_DEMO__USERS": "300", "RECSYS_DEMO__ARTISTS": "60"},
    )
    assert result.code == 0, result.err
    for heading in (
        "built the trust-gated candidate pool",
        "screened listens",
        "artists similar to",
        "personal mixes for user",
        "Release Radar",
        "an artist radio",
    ):
        assert heading in result.out
    assert "because you listen to" in result.out
    assert ("curated by" in result.out) or ("ALS neighbour" in result.out)
    assert "Traceback" not in result.err


def test_the_pool_of_a_world_is_exactly_what_its_truth_file_expects(tmp_path: Path) -> None:
    generate_world(
        tmp_path / "data", WorldConfig(users=200, artists=120, seed=17, today=date(2026, 11, 26))
    )
    truth = json.loads((tmp_path / "data.truth.json").read_text())
    conn = open_state(tmp_path / "state")
    result = import_trusted(
        conn, tmp_path / "state", tmp_path / "data", AiRules(), datetime(2026, 11, 26, tzinfo=UTC)
    )
    conn.close()
    admitted = set(result.build.snapshot.tracks)
    assert admitted == set(truth["expected_eligible_track_ids"])
    assert not admitted & set(truth["farm_track_ids"])
    assert not admitted & set(truth["declared_generated_track_ids"])
    assert set(truth["assisted_track_ids"]) & admitted  # AI-assisted tracks are allowed
    assert result.build.report.issues == ()
