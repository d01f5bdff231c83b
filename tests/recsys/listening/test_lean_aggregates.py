"""The play matrix and the listening history built block by block (bounded memory at SPEC's
scale) are the very ones the whole-log reference builds, on a generated world with bots,
loops, opted-out and duets."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from pool.importer import import_data_dir
from recsys.listening.fraud import FraudVerdict, screen_listens
from recsys.listening.history import ListeningHistory, build_history
from recsys.listening.reader import ListenLog, read_listens
from recsys.listening.training import artist_play_matrix, track_facts
from recsys.settings import load_settings
from recsys.state.schema import open_engine_state
from recsys.world import WorldConfig, generate_world
from tests.factories import staff_import
from tests.recsys.listening import reference_aggregates as reference
from tests.recsys.trained_world import NOW, TODAY


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> tuple[ListenLog, FraudVerdict, object]:
    root = tmp_path_factory.mktemp("lean")
    data = root / "data"
    generate_world(data, WorldConfig(users=400, artists=80, seed=5, today=TODAY))
    settings = load_settings(None, {}, root)
    conn = open_engine_state(root / "state")
    try:
        staff_import(conn, data)
        imported = import_data_dir(
            conn, root / "state", data, settings.ai, NOW, max_shrink=None, publish=False
        )
    finally:
        conn.close()
    log, _ = read_listens(data, imported.catalog.tracks)
    facts = track_facts(log, imported.catalog, imported.build.report.rejected_tracks)
    verdict = screen_listens(log, facts, settings.fraud)
    assert verdict.flagged_users.any() and not verdict.kept_rows.all()
    assert any(len(t.artist_ids) > 1 for t in imported.build.snapshot.tracks.values())  # duets
    return log, verdict, imported.build.snapshot


@pytest.mark.parametrize("block_rows", [1, 97, 5000, 1 << 22])
def test_the_play_matrix_is_the_reference_one(screened: tuple, block_rows: int) -> None:
    log, verdict, snapshot = screened
    matrix, users, artists = artist_play_matrix(log, verdict, snapshot, block_rows=block_rows)
    expected, expected_users, expected_artists = reference.artist_play_matrix(
        log, verdict, snapshot
    )
    assert list(users.ids) == list(expected_users.ids)
    assert list(artists.ids) == list(expected_artists.ids)
    assert matrix.dtype == expected.dtype and matrix.shape == expected.shape
    for part in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(matrix, part), getattr(expected, part))


def test_the_listening_history_is_the_reference_one(screened: tuple) -> None:
    log, verdict, snapshot = screened
    history = build_history(log, verdict, snapshot)
    expected = reference.build_history(log, verdict, snapshot)
    assert list(history.users.ids) == list(expected.users.ids)
    for field in fields(ListeningHistory):
        if field.name in ("users", "tracks"):
            continue
        ours, theirs = getattr(history, field.name), getattr(expected, field.name)
        assert ours.dtype == theirs.dtype, field.name
        np.testing.assert_array_equal(ours, theirs, err_msg=field.name)


def test_an_empty_log_gives_an_empty_matrix_and_history(screened: tuple) -> None:
    log, verdict, snapshot = screened
    nothing = FraudVerdict(
        **{
            **{f.name: getattr(verdict, f.name) for f in fields(FraudVerdict)},
            "kept_rows": np.zeros_like(verdict.kept_rows),
        }
    )
    matrix, users, _ = artist_play_matrix(log, nothing, snapshot, block_rows=97)
    assert matrix.shape[0] == len(users) == 0
    history = build_history(log, nothing, snapshot)
    assert len(history.users) == 0 and len(history.track) == 0
