"""Artists described by their tags, for ALS side information and tag-aware scoring.

Tags carry what listening data lacks for the long tail: two small artists nobody plays
together can still share "shoegaze". Counts become ``log(1 + count) * idf`` and each artist's
row is scaled to unit length, so a cosine between rows is a tag similarity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse as sp

from recsys.domain.vocabulary import Vocabulary


def l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix, dtype=np.float32)


def tag_vectors(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Artists × tags counts → unit rows of ``log1p(count) * idf``."""
    weighted = sp.csr_matrix(counts, dtype=np.float32, copy=True)
    weighted.data = np.log1p(weighted.data)
    document_frequency = np.diff(weighted.tocsc().indptr)
    idf = np.log((1.0 + weighted.shape[0]) / (1.0 + document_frequency)).astype(np.float32)
    return l2_rows(sp.csr_matrix(weighted @ sp.diags(idf)))


def artist_tag_counts(
    artists: Vocabulary, tags_of_artist: Mapping[str, Iterable[str]]
) -> tuple[sp.csr_matrix, Vocabulary]:
    """Count each tag over an artist's tracks (``tags_of_artist`` yields one tag per use)."""
    tags = Vocabulary()
    rows, cols = [], []
    for row, artist in enumerate(artists.ids):
        for tag in tags_of_artist.get(artist, ()):
            rows.append(row)
            cols.append(tags.add(tag))
    counts = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(artists), max(len(tags), 1)),
    )
    counts.sum_duplicates()
    return counts, tags


def tag_pseudo_users(vectors: sp.csr_matrix, weight: float, min_artists: int = 2) -> sp.csr_matrix:
    """One extra ALS "user" per tag shared by at least ``min_artists`` artists, who "plays"
    exactly the artists carrying that tag: item factors learn which artists share tags."""
    rows = sp.csr_matrix(vectors.T)
    rows = rows[np.diff(rows.indptr) >= min_artists]
    rows.data *= weight
    return sp.csr_matrix(rows, dtype=np.float32)
