"""From screened listens to the users × artists play matrix that ALS trains on.

Only pool tracks count: a play of an unverified or AI track teaches the model nothing we would
ever recommend, and leaving it out keeps farm catalogues from shaping anyone's factors. Plays
are credited to every main artist of a track (a duet is both artists' work).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from pool.catalog import Catalog
from pool.snapshot import PoolSnapshot
from recsys.domain.vocabulary import Vocabulary
from recsys.listening.fraud import FraudVerdict, TrackFacts
from recsys.listening.reader import ListenLog

FARM_LIKE_REASONS = frozenset(
    {"untrusted_partner", "declared_generated", "ai_flagged", "ai_confirmed"}
)


def track_facts(
    log: ListenLog, catalog: Catalog, rejected: Mapping[str, tuple[str, ...]]
) -> TrackFacts:
    """What the fraud rules need to know about each track in the log."""
    labels, artists = Vocabulary(), Vocabulary()
    farm_like, label, artist = [], [], []
    for track_id in log.tracks.ids:
        track = catalog.tracks[track_id]
        farm_like.append(not FARM_LIKE_REASONS.isdisjoint(rejected.get(track_id, ())))
        label.append(labels.add(track.label_id))
        artist.append(artists.add(track.primary_artist_id))
    return TrackFacts(
        farm_like=np.array(farm_like, dtype=bool),
        label=np.array(label, dtype=np.int64),
        artist=np.array(artist, dtype=np.int64),
    )


#: kept log rows expanded into (user, artist) entries at once: bounds the temporaries (about 60
#: bytes a row) whatever the size of the log; at SPEC's scale the whole-log version held
#: several gigabytes of them at the rebuild's peak
BLOCK_ROWS = 1 << 22


def artist_play_matrix(
    log: ListenLog, verdict: FraudVerdict, pool: PoolSnapshot, *, block_rows: int = BLOCK_ROWS
) -> tuple[sp.csr_matrix, Vocabulary, Vocabulary]:
    """Plays per (user, pool artist) of the accounts and rows the fraud screen kept.

    Users are numbered in the log's order, artists in the order the log's tracks credit them.
    Kept rows are expanded into one entry per credited artist (most tracks have one) block by
    block, each block summed into the matrix (plays are whole numbers: float32 sums them
    exactly in any order)."""
    artists = Vocabulary()
    credits = np.zeros(len(log.tracks), dtype=np.int64)
    credited: list[int] = []
    for index, track_id in enumerate(log.tracks.ids):
        track = pool.tracks.get(track_id)
        if track is not None:
            credits[index] = len(track.artist_ids)
            credited.extend(artists.add(a) for a in track.artist_ids)
    first_credit = np.concatenate([[0], np.cumsum(credits)[:-1]]).astype(np.int64)
    credit_artist = np.array(credited, dtype=np.int64)
    shape = (len(log.users), len(artists))
    matrix = sp.csr_matrix(shape, dtype=np.float32)
    present = np.zeros(len(log.users), dtype=bool)
    for start in range(0, len(log), block_rows):
        kept = start + np.flatnonzero(verdict.kept_rows[start : start + block_rows])
        track = log.track[kept]
        repeat = credits[track]
        rows = np.repeat(kept, repeat)
        offsets = np.arange(len(rows)) - np.repeat(np.cumsum(repeat) - repeat, repeat)
        artist_of_row = credit_artist[np.repeat(first_credit[track], repeat) + offsets]
        row_user = log.user[rows]
        present[row_user] = True
        block = sp.csr_matrix(
            (verdict.capped_plays[rows].astype(np.float32), (row_user, artist_of_row)),
            shape=shape,
        )
        matrix = matrix + block
    listeners = np.flatnonzero(present)
    users = Vocabulary(log.users.id_of(u) for u in listeners.tolist())
    matrix = sp.csr_matrix(matrix[listeners], dtype=np.float32)
    matrix.sum_duplicates()
    return matrix, users, artists
