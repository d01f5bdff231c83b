"""The reference aggregations of a screened log: the play matrix ALS trains on and the
listening history, as first written (whole-log numpy, gigabytes of temporaries at SPEC's scale).
``recsys.listening`` now builds both block by block or in one sort; these check that what it
builds is the very same."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from pool.snapshot import PoolSnapshot
from recsys.domain.vocabulary import Vocabulary
from recsys.listening.fraud import FraudVerdict
from recsys.listening.history import ListeningHistory
from recsys.listening.reader import ListenLog


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


def build_history(log: ListenLog, verdict: FraudVerdict, pool: PoolSnapshot) -> ListeningHistory:
    """Aggregate kept rows of pool tracks per (user, track)."""
    in_pool = np.array([t in pool.tracks for t in log.tracks.ids], dtype=bool)
    durations = np.array(
        [pool.tracks[t].duration_ms if t in pool.tracks else 1 for t in log.tracks.ids],
        dtype=np.float64,
    )
    rows = np.flatnonzero(verdict.kept_rows & in_pool[log.track]) if len(log) else np.zeros(0, int)
    user = log.user[rows].astype(np.int64)
    track = log.track[rows].astype(np.int64)
    n_tracks = max(len(log.tracks), 1)
    keys, group = np.unique(user * n_tracks + track, return_inverse=True)
    plays = np.bincount(group, weights=verdict.capped_plays[rows]).astype(np.int64)
    raw_plays = np.bincount(group, weights=log.plays[rows])
    ms = np.bincount(group, weights=log.ms_played[rows])
    last_day = np.full(len(keys), np.iinfo(np.int32).min, dtype=np.int64)
    np.maximum.at(last_day, group, log.day[rows].astype(np.int64))
    key_user, key_track = keys // n_tracks, keys % n_tracks
    heard = np.clip(ms / np.maximum(raw_plays * durations[key_track], 1.0), 0.0, 1.0)
    # Re-index users densely in first-seen order of the log (keys are sorted by user already).
    present = np.unique(key_user)
    users = Vocabulary(log.users.id_of(int(u)) for u in present)
    counts = np.bincount(np.searchsorted(present, key_user), minlength=len(present))
    listeners = np.bincount(key_track, minlength=len(log.tracks)).astype(np.int64)
    return ListeningHistory(
        users=users,
        tracks=log.tracks,
        indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        track=key_track.astype(np.int32),
        plays=plays,
        last_day=last_day.astype(np.int32),
        heard=heard.astype(np.float32),
        listeners=listeners,
    )
