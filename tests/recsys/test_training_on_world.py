"""Training on a generated world: the fraud screen catches the planted bots and spares people,
farm artists never get factors, and the graph joins curated links with ALS neighbours."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from recsys.graph.similar_artists import similar_artists
from recsys.settings import load_settings
from recsys.state.schema import open_engine_state
from recsys.training.run import TrainingRun, load_current_graph
from recsys.world import WorldConfig, generate_world
from tests.staff import trusted_training

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@dataclass(frozen=True)
class TrainedWorld:
    run: TrainingRun
    truth: dict[str, Any]
    state: Path
    data: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedWorld:
    root = tmp_path_factory.mktemp("world")
    data = root / "data"
    generate_world(data, WorldConfig(users=1500, artists=150, seed=11, today=date(2026, 11, 26)))
    truth = json.loads((root / "data.truth.json").read_text())
    settings = load_settings(None, {}, root)
    conn = open_engine_state(root / "state")
    try:
        run = trusted_training(conn, root / "state", data, settings, NOW)
    finally:
        conn.close()
    return TrainedWorld(run, truth, root / "state", data)


def _bots(truth: dict[str, Any]) -> set[str]:
    return {user for users in truth["bot_user_ids"].values() for user in users}


def test_every_planted_bot_is_left_out_of_training(trained: TrainedWorld) -> None:
    bots = _bots(trained.truth) - set(trained.truth["optout_user_ids"])
    assert bots, "the world must plant bots for this test to mean anything"
    assert bots <= trained.run.flagged_user_ids
    assert not bots & set(trained.run.model.users.ids)


def test_under_one_percent_of_genuine_listeners_are_left_out(trained: TrainedWorld) -> None:
    genuine_flagged = trained.run.flagged_user_ids - _bots(trained.truth)
    genuine = trained.run.fraud_users - len(_bots(trained.truth))
    assert len(genuine_flagged) / genuine < 0.01


def test_opted_out_users_never_reach_training(trained: TrainedWorld) -> None:
    optouts = set(trained.truth["optout_user_ids"])
    assert optouts
    assert not optouts & set(trained.run.model.users.ids)
    assert trained.run.listens.opted_out_rows > 0


def test_farm_and_unverified_artists_get_no_factors(trained: TrainedWorld) -> None:
    modelled = set(trained.run.model.artists.ids)
    assert not modelled & set(trained.truth["farm_artist_ids"])
    assert not modelled & set(trained.truth["unverified_artist_ids"])


def test_graph_has_curated_and_als_edges_and_no_blocked_pair(trained: TrainedWorld) -> None:
    settings = load_settings(None, {}, trained.state.parent)
    conn = open_engine_state(trained.state)
    try:
        graph = load_current_graph(conn, trained.state, settings)
    finally:
        conn.close()
    sources = {data["source"] for _, _, data in graph.edges(data=True)}
    assert sources == {"curated", "als"}
    for a, b in trained.truth["block_pairs"]:
        assert not graph.has_edge(a, b)
    verified = set(trained.truth["verified_artist_ids"])
    assert set(graph.nodes) <= verified
    curated = [(a, b) for a, b, d in graph.edges(data=True) if d["source"] == "curated"]
    artist = curated[0][0]
    assert any(s.source == "curated" for s in similar_artists(graph, artist, 50))
