"""The pool of a generated world against its truth file (the newcomer's first command,
`recsys demo`, is walked through in ``test_cli_walkthrough``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from pool.ai_status import AiRules
from pool.state import open_state
from recsys.world import WorldConfig, generate_world
from tests.factories import import_trusted


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
