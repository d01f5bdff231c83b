"""Regularization that means the same on any size of data (``als.regularization_scale``).

An absolute lambda tuned on a large matrix wipes out a small one's model; ``spectral`` takes the
setting as a fraction of the confidence matrix's largest singular value.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.embeddings.als import (
    AlsSettings,
    effective_regularization,
    top_singular_value,
    train_factors,
)

BASE = AlsSettings(factors=8, iterations=10, alpha=1.0, confidence="log", seed=3, threads=1)


def _scenes(users: int, artists: int, seed: int) -> sp.csr_matrix:
    """Confidence rows: each user plays a few artists of one of two halves of the catalogue."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(users):
        half = artists // 2
        start = 0 if user % 2 else half
        for artist in rng.choice(half, size=min(5, half), replace=False):
            rows.append(user)
            cols.append(start + int(artist))
    values = 1.0 + rng.random(len(rows)).astype(np.float32) * 5
    return sp.csr_matrix((values, (rows, cols)), shape=(users, artists), dtype=np.float32)


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (60, 20), (200, 150)])
def test_top_singular_value_is_the_spectral_norm(shape: tuple[int, int]) -> None:
    matrix = sp.random(*shape, density=0.4, random_state=1, format="csr", dtype=np.float32)
    matrix.data += 0.5
    assert top_singular_value(matrix) == pytest.approx(
        np.linalg.norm(matrix.toarray(), 2), rel=1e-4
    )


def test_top_singular_value_of_an_empty_matrix_is_zero() -> None:
    assert top_singular_value(sp.csr_matrix((4, 3), dtype=np.float32)) == 0.0


def test_absolute_regularization_is_handed_over_as_it_is() -> None:
    matrix = _scenes(40, 10, 0)
    settings = replace(BASE, regularization=7.5, regularization_scale="absolute")
    assert effective_regularization(matrix, settings) == 7.5


def test_spectral_regularization_scales_with_the_data() -> None:
    small, large = _scenes(40, 10, 0), _scenes(2000, 20, 0)
    settings = replace(BASE, regularization=0.2, regularization_scale="spectral")
    assert effective_regularization(small, settings) == pytest.approx(
        0.2 * top_singular_value(small)
    )
    assert effective_regularization(large, settings) > 3 * effective_regularization(small, settings)


def test_a_lambda_tuned_on_large_data_wipes_out_a_small_model_unless_spectral() -> None:
    """The demo's failure, in miniature: the large matrix's lambda, given as absolute, leaves the
    small matrix's factors at nothing; the same strength given relative to the spectrum does not."""
    small, large = _scenes(40, 10, 0), _scenes(2000, 20, 0)
    fraction = 0.5
    tuned = fraction * top_singular_value(large)
    absolute = replace(BASE, regularization=tuned, regularization_scale="absolute")
    spectral = replace(BASE, regularization=fraction, regularization_scale="spectral")
    _, wiped = train_factors(small, absolute)
    _, kept = train_factors(small, spectral)
    assert np.abs(wiped).max() < 1e-3
    assert np.linalg.norm(kept, axis=1).min() > 0.1


def test_an_unknown_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="regularization_scale must be one of absolute, spectral"):
        AlsSettings(regularization_scale="relative")
