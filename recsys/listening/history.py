"""Per-user listening history for the generators, and listener counts per track.

Built from the screened log (fraud-flagged accounts and opt-outs are not in it), aggregated
per (user, track): plays, the last day played and how much of the track was heard, so the
generators can keep recent plays out of discovery slots and play skipped tracks less. Stored
as arrays sorted by user, one slice per user, so a million users fit in memory and a user's
history is a slice, not a search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pool.files import replace_file
from pool.snapshot import PoolSnapshot
from recsys.domain.vocabulary import Vocabulary
from recsys.embeddings.artist_model import DAMAGED_FILE_ERRORS, REBUILD_HINT, one_line
from recsys.errors import CorruptFileError
from recsys.listening.fraud import FraudVerdict
from recsys.listening.reader import ListenLog

HISTORY_FILE = "history.npz"


@dataclass(frozen=True, slots=True)
class TrackHistory:
    """One user's history: parallel arrays over the tracks they played."""

    track_ids: tuple[str, ...]
    plays: npt.NDArray[np.int64]
    last_day: npt.NDArray[np.int32]  # days since 1970-01-01
    heard: npt.NDArray[np.float32]  # share of the track heard per play, 0-1


EMPTY_HISTORY = TrackHistory(
    (), np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)
)


@dataclass(frozen=True)
class ListeningHistory:
    users: Vocabulary
    tracks: Vocabulary
    indptr: npt.NDArray[np.int64]
    track: npt.NDArray[np.int32]
    plays: npt.NDArray[np.int64]
    last_day: npt.NDArray[np.int32]
    heard: npt.NDArray[np.float32]
    listeners: npt.NDArray[np.int64]  # per track of ``tracks``: distinct listeners

    @classmethod
    def empty(cls) -> ListeningHistory:
        return cls(
            Vocabulary(),
            Vocabulary(),
            np.zeros(1, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64),
        )

    def of(self, user_id: str) -> TrackHistory:
        row = self.users.index_of(user_id)
        if row is None:
            return EMPTY_HISTORY
        start, stop = int(self.indptr[row]), int(self.indptr[row + 1])
        ids = self.tracks.ids
        return TrackHistory(
            track_ids=tuple(map(ids.__getitem__, self.track[start:stop].tolist())),
            plays=self.plays[start:stop],
            last_day=self.last_day[start:stop],
            heard=self.heard[start:stop],
        )

    def track_listeners(self) -> dict[str, int]:
        return {t: int(n) for t, n in zip(self.tracks.ids, self.listeners, strict=True)}

    def without_users(self, user_ids: set[str]) -> ListeningHistory:
        """The same history with some users removed entirely (erasure)."""
        keep_rows = [i for i, u in enumerate(self.users.ids) if u not in user_ids]
        counts = np.diff(self.indptr)[keep_rows]
        entries = (
            np.concatenate([np.arange(self.indptr[i], self.indptr[i + 1]) for i in keep_rows])
            if keep_rows
            else np.zeros(0, dtype=np.int64)
        )
        return ListeningHistory(
            users=Vocabulary(self.users.ids[i] for i in keep_rows),
            tracks=self.tracks,
            indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            track=self.track[entries],
            plays=self.plays[entries],
            last_day=self.last_day[entries],
            heard=self.heard[entries],
            listeners=self.listeners,
        )


def _run_sums(
    values: npt.NDArray[np.integer], rows: npt.NDArray[np.integer], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """``values`` of ``rows`` summed (in int64) over each run that begins at one of ``starts``."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    sums: npt.NDArray[np.int64] = np.add.reduceat(values[rows], starts, dtype=np.int64)
    return sums


def _sorted_by_key(
    log: ListenLog, kept: npt.NDArray[np.bool_], n_tracks: int
) -> tuple[npt.NDArray[np.integer], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The ``kept`` rows in (user, track) order, a key's rows in log order; where each key's
    run starts; each run's key (user * n_tracks + track). Row numbers are int32 when the log
    allows (half the bytes of the largest arrays at the peak of this sort)."""
    rows: npt.NDArray[np.integer] = np.flatnonzero(kept)
    if len(log) < np.iinfo(np.int32).max:
        rows = rows.astype(np.int32)
    keys = log.user[rows].astype(np.int64)
    keys *= n_tracks
    keys += log.track[rows]
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    rows = rows[order]
    del order
    starts = (
        np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        if len(keys)
        else np.zeros(0, dtype=np.int64)
    )
    return rows, starts, keys[starts]


def build_history(log: ListenLog, verdict: FraudVerdict, pool: PoolSnapshot) -> ListeningHistory:
    """Aggregate kept rows of pool tracks per (user, track).

    One stable sort of the rows by (user, track), then sums over each run of equal keys in
    whole numbers (plays and milliseconds are counts: the sums are exact, as the float sums of
    a first version were), each per-row or per-key array let go as soon as it has served: at
    SPEC's scale every 8-byte array over the log is half a gigabyte at the rebuild's peak."""
    in_pool = np.array([t in pool.tracks for t in log.tracks.ids], dtype=bool)
    durations = np.array(
        [pool.tracks[t].duration_ms if t in pool.tracks else 1 for t in log.tracks.ids],
        dtype=np.float64,
    )
    n_tracks = max(len(log.tracks), 1)
    kept = verdict.kept_rows & in_pool[log.track] if len(log) else np.zeros(0, dtype=bool)
    rows, starts, keys = _sorted_by_key(log, kept, n_tracks)
    del kept
    plays = _run_sums(verdict.capped_plays, rows, starts)
    key_track = (keys % n_tracks).astype(np.int32)
    ms = _run_sums(log.ms_played, rows, starts).astype(np.float64)
    ms /= np.maximum(_run_sums(log.plays, rows, starts) * durations[key_track], 1.0)
    heard = np.clip(ms, 0.0, 1.0).astype(np.float32)
    del ms
    last_day = (
        np.maximum.reduceat(log.day[rows], starts).astype(np.int32)
        if len(starts)
        else np.zeros(0, np.int32)
    )
    del rows, starts
    key_user = keys // n_tracks
    del keys
    # Users numbered densely in the log's order (keys are sorted by user): each user's run.
    first = np.flatnonzero(np.concatenate([[len(key_user) > 0], key_user[1:] != key_user[:-1]]))
    users = Vocabulary(log.users.id_of(u) for u in key_user[first].tolist())
    indptr = np.append(first, len(key_user)).astype(np.int64)
    del key_user
    listeners = np.bincount(key_track, minlength=len(log.tracks)).astype(np.int64)
    return ListeningHistory(
        users=users,
        tracks=log.tracks,
        indptr=indptr,
        track=key_track,
        plays=plays,
        last_day=last_day,
        heard=heard,
        listeners=listeners,
    )


def save_history(folder: Path, history: ListeningHistory) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    replace_file(
        folder,
        HISTORY_FILE,
        lambda out: np.savez(
            out,
            users=np.array(history.users.ids, dtype=str),
            tracks=np.array(history.tracks.ids, dtype=str),
            indptr=history.indptr,
            track=history.track,
            plays=history.plays,
            last_day=history.last_day,
            heard=history.heard,
            listeners=history.listeners,
        ),
    )


def load_history(folder: Path) -> ListeningHistory:
    """The listening history saved beside the model. A missing, truncated or scribbled file
    raises ``CorruptFileError`` naming it and the rebuild that writes it again, never numpy's
    or zipfile's own error (a traceback at the CLI, a bare 500 at the API)."""
    path = folder / HISTORY_FILE
    try:
        # Every array is read inside the ``with``: numpy reads members lazily, and zipfile
        # checks a member's CRC at its end, so a scribbled byte anywhere is caught here.
        with np.load(path, allow_pickle=False) as data:
            return ListeningHistory(
                users=Vocabulary(str(u) for u in data["users"]),
                tracks=Vocabulary(str(t) for t in data["tracks"]),
                indptr=data["indptr"],
                track=data["track"],
                plays=data["plays"],
                last_day=data["last_day"],
                heard=data["heard"],
                listeners=data["listeners"],
            )
    except FileNotFoundError as error:
        raise CorruptFileError(
            f"listening history {path} is missing, so it cannot be loaded: {REBUILD_HINT}"
        ) from error
    except DAMAGED_FILE_ERRORS as error:
        raise CorruptFileError(
            f"listening history {path} is damaged or truncated ({one_line(error)}): {REBUILD_HINT}"
        ) from error
