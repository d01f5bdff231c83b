"""A generated world, trained and loaded as an engine: the fixture of end-to-end tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from recsys.engine.loading import Engine, load_engine
from recsys.settings import Settings, load_settings
from recsys.state.schema import open_engine_state
from recsys.training.run import TrainingRun
from recsys.world import WorldConfig, generate_world
from tests.staff import trusted_training

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@dataclass(frozen=True)
class TrainedWorld:
    data: Path
    state: Path
    truth: dict[str, Any]
    settings: Settings
    run: TrainingRun
    engine: Engine

    def bots(self) -> set[str]:
        return {u for users in self.truth["bot_user_ids"].values() for u in users}


def train_world(root: Path, *, users: int, artists: int, seed: int) -> TrainedWorld:
    data = root / "data"
    generate_world(data, WorldConfig(users=users, artists=artists, seed=seed, today=TODAY))
    truth = json.loads((root / "data.truth.json").read_text())
    settings = load_settings(None, {}, root)
    conn = open_engine_state(root / "state")
    try:
        run = trusted_training(conn, root / "state", data, settings, NOW)
        engine = load_engine(conn, root / "state", settings, NOW)
    finally:
        conn.close()
    return TrainedWorld(data, root / "state", truth, settings, run, engine)
