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


def artist_play_matrix(
    log: ListenLog, verdict: FraudVerdict, pool: PoolSnapshot
) -> tuple[sp.csr_matrix, Vocabulary, Vocabulary]:
    """Plays per (user, pool artist) of the accounts and rows the fraud screen kept."""
    users, artists = Vocabulary(), Vocabulary()
    track_artists: list[tuple[int, ...]] = []
    for track_id in log.tracks.ids:
        track = pool.tracks.get(track_id)
        track_artists.append(
            () if track is None else tuple(artists.add(a) for a in track.artist_ids)
        )
    credit_track, credit_artist = [], []
    for index, credited in enumerate(track_artists):
        for artist in credited:
            credit_track.append(index)
            credit_artist.append(artist)
    credit_track_arr = np.array(credit_track, dtype=np.int64)
    credit_artist_arr = np.array(credit_artist, dtype=np.int64)
    # Expand each kept row into one entry per credited artist (most tracks have one).
    kept = np.flatnonzero(verdict.kept_rows)
    starts = np.searchsorted(credit_track_arr, log.track[kept], side="left")
    ends = np.searchsorted(credit_track_arr, log.track[kept], side="right")
    repeat = ends - starts
    rows = np.repeat(kept, repeat)
    offsets = np.arange(int(repeat.sum())) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    artist_of_row = credit_artist_arr[np.repeat(starts, repeat) + offsets]
    log_users = log.user[rows]
    dense_user = np.full(len(log.users), -1, dtype=np.int64)
    for log_user in np.unique(log_users):
        dense_user[log_user] = users.add(log.users.id_of(int(log_user)))
    matrix = sp.csr_matrix(
        (verdict.capped_plays[rows].astype(np.float32), (dense_user[log_users], artist_of_row)),
        shape=(len(users), len(artists)),
    )
    matrix.sum_duplicates()
    return matrix, users, artists
