"""ALS on a matrix with a known answer: two scenes of listeners who never cross over."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.domain.vocabulary import Vocabulary
from recsys.embeddings.als import AlsSettings, confidence, top_k_cosine
from recsys.embeddings.artist_model import (
    ModelError,
    load_model,
    save_model,
    train_artist_model,
)

SETTINGS = AlsSettings(
    factors=8, regularization=0.05, iterations=10, alpha=1.0, seed=3, confidence="log", threads=1
)


def _two_scenes() -> tuple[sp.csr_matrix, Vocabulary, Vocabulary]:
    """Users 0-19 play artists 0-4 only; users 20-39 play artists 5-9 only."""
    rng = np.random.default_rng(0)
    rows, cols, plays = [], [], []
    for user in range(40):
        scene = range(0, 5) if user < 20 else range(5, 10)
        for artist in rng.choice(list(scene), size=3, replace=False):
            rows.append(user)
            cols.append(int(artist))
            plays.append(int(rng.integers(1, 50)))
    matrix = sp.csr_matrix((np.array(plays, dtype=np.float32), (rows, cols)), shape=(40, 10))
    users = Vocabulary(f"u{i}" for i in range(40))
    artists = Vocabulary(f"a{i}" for i in range(10))
    return matrix, users, artists


def test_confidence_is_one_plus_alpha_log_plays() -> None:
    plays = sp.csr_matrix(np.array([[0.0, 1.0, 99.0]], dtype=np.float32))
    weighted = confidence(plays, AlsSettings(confidence="log", alpha=2.0))
    assert weighted.toarray()[0].tolist() == pytest.approx(
        [0.0, 1 + 2 * np.log(2), 1 + 2 * np.log(100)]
    )


def test_neighbours_stay_within_their_scene() -> None:
    model = train_artist_model(*_two_scenes(), SETTINGS, neighbours=3)
    for artist, neighbours in model.neighbours().items():
        scene = int(artist[1:]) < 5
        assert len(neighbours) == 3
        assert all((int(other[1:]) < 5) == scene for other, _ in neighbours), artist


def test_same_inputs_and_seed_give_the_same_model() -> None:
    first = train_artist_model(*_two_scenes(), SETTINGS, neighbours=3)
    again = train_artist_model(*_two_scenes(), SETTINGS, neighbours=3)
    assert first.version == again.version
    np.testing.assert_array_equal(first.artist_factors, again.artist_factors)


def test_saved_model_loads_without_retraining(tmp_path: Path) -> None:
    model = train_artist_model(*_two_scenes(), SETTINGS, neighbours=3)
    save_model(tmp_path, model)
    loaded = load_model(tmp_path, model.version)
    np.testing.assert_array_equal(loaded.user_factors, model.user_factors)
    assert list(loaded.artists.ids) == list(model.artists.ids)
    assert loaded.neighbours() == model.neighbours()
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_model(tmp_path, "als-missing")


def test_top_k_cosine_excludes_self_and_sorts() -> None:
    unit = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    index, scores = top_k_cosine(unit, 2)
    assert index.tolist() == [[1, 2], [0, 2], [1, 0]]
    assert scores[0].tolist() == pytest.approx([0.8, 0.0])
