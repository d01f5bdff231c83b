"""The fraud screen's per-user features in one compiled pass over each user's rows.

Every grouping the rules need lies within one user: plays per day and per (day, track), plays
per label and per primary artist, the distinct (track, day) items and their MinHash signature.
Computing each with ``np.unique`` over composite keys sorted the whole log once per grouping,
which cost most of the screen at a million listeners (208 s of a 1,015 s rebuild). Here a
counting sort brings each user's rows together once, a user's few rows are sorted by
(day, track), and labels and artists are summed in scratch arrays sized to their vocabularies
that only the rows which touched them reset, so the work is linear in the log. The same pass
sums each user's plays, short plays and farm-like plays (float64 weight arrays over the whole
log before). Users are independent, so ranges of them are screened on threads at once.

The arithmetic is the screen's own (``fraud.screen_listens`` documents the rules): the same
integer sums, the same float expressions for a capped play and a play's length, ties for a
user's top artist going to the highest artist index, as the grouped arrays gave before.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

IntArray = npt.NDArray[np.int64]
RowArray = npt.NDArray[np.int32]


class LogRows(NamedTuple):
    """The log's rows (in any order) and the sizes of the spaces they index."""

    user: RowArray
    track: RowArray
    day: RowArray  # days since the log's first day
    plays: RowArray
    ms_played: npt.NDArray[np.int64]
    n_users: int
    n_tracks: int
    days: int


class TrackGroups(NamedTuple):
    """Per track of the log's vocabulary: its label's and its primary artist's index, and
    whether it is farm-like."""

    label: IntArray
    artist: IntArray
    farm_like: npt.NDArray[np.bool_]


class ShortPlay(NamedTuple):
    """A play is short when its length (``ms_played / plays``) is in ``[lowest, below)``."""

    lowest: float
    below: float


class MinHashing(NamedTuple):
    """Hash functions ``(a * item + b) % prime``, one per signature column."""

    a: IntArray
    b: IntArray
    prime: int


class UserFeatures(NamedTuple):
    """Per user (by the log's user index) unless said otherwise."""

    total_plays: IntArray
    short_plays: IntArray  # plays of the user's rows whose plays are short (``ShortPlay``)
    farm_plays: IntArray  # plays of farm-like tracks
    busiest_day_plays: IntArray  # plays on the user's busiest day
    loop_days: IntArray  # days with a track played more often than the loop limit
    distinct_items: IntArray  # distinct (track, day) pairs
    top_label_plays: IntArray  # plays that went to the user's most played label
    top_artist_plays: IntArray  # plays that went to the user's most played primary artist
    top_artist: IntArray  # which artist that is (-1 for a user without rows)
    listeners: IntArray  # per artist index up to the highest one played: distinct listeners
    signatures: IntArray  # (users, hashes): MinHash minima over the user's items
    capped_plays: npt.NDArray[np.int32]  # per row: plays, a (user, day, track) group capped


@njit(cache=True)
def _rows_by_user(user: IntArray, n_users: int) -> tuple[IntArray, IntArray]:
    """A stable counting sort: ``order[starts[u]:starts[u + 1]]`` are user u's rows."""
    starts = np.zeros(n_users + 1, dtype=np.int64)
    for u in user:
        starts[u + 1] += 1
    for u in range(n_users):
        starts[u + 1] += starts[u]
    order = np.empty(len(user), dtype=np.int64)
    filled = starts[:-1].copy()
    for row in range(len(user)):
        order[filled[user[row]]] = row
        filled[user[row]] += 1
    return starts, order


@njit(cache=True)
def _top_group(touched: IntArray, count: int, sums: IntArray) -> tuple[int, int]:
    """The largest sum among the touched groups and its group (the highest index on a tie);
    resets the scratch sums it read for the next user."""
    best, top = -1, -1
    for k in range(count):
        group = touched[k]
        total = sums[group]
        if total > best or (total == best and group > top):
            best, top = total, group
        sums[group] = 0
    return max(best, 0), top


def user_features(
    rows_of_log: LogRows,
    groups: TrackGroups,
    loop_limit: int,
    hashing: MinHashing,
    short_play: ShortPlay,
    *,
    threads: int = 1,
) -> UserFeatures:
    """Everything the rules read per user; ``loop_limit`` is the most plays of one track in
    one day that count in full.

    Users are independent, so ``threads`` contiguous ranges of them (about as many rows each)
    are filled at once by the compiled pass, which holds no GIL; each range has its own
    scratch and its own listener counts, added up at the end. Every figure is an integer sum
    or a per-user value, so the result is the same for any number of threads."""
    n_users = rows_of_log.n_users
    starts, order = _rows_by_user(rows_of_log.user, n_users)
    n_artists = int(groups.artist.max()) + 1 if len(groups.artist) else 1
    out = UserFeatures(
        total_plays=np.zeros(n_users, dtype=np.int64),
        short_plays=np.zeros(n_users, dtype=np.int64),
        farm_plays=np.zeros(n_users, dtype=np.int64),
        busiest_day_plays=np.zeros(n_users, dtype=np.int64),
        loop_days=np.zeros(n_users, dtype=np.int64),
        distinct_items=np.zeros(n_users, dtype=np.int64),
        top_label_plays=np.zeros(n_users, dtype=np.int64),
        top_artist_plays=np.zeros(n_users, dtype=np.int64),
        top_artist=np.full(n_users, -1, dtype=np.int64),
        listeners=np.zeros(0, dtype=np.int64),
        signatures=np.full((n_users, len(hashing.a)), hashing.prime, dtype=np.int64),
        capped_plays=np.empty(len(rows_of_log.user), dtype=np.int32),
    )
    bounds = user_ranges(starts, max(1, threads))
    counts = [np.zeros(n_artists, dtype=np.int64) for _ in bounds[:-1]]

    def fill(part: int) -> int:
        return _fill_users(
            rows_of_log,
            groups,
            loop_limit,
            hashing,
            short_play,
            starts,
            order,
            int(bounds[part]),
            int(bounds[part + 1]),
            out,
            counts[part],
        )

    parts = range(len(bounds) - 1)
    if len(parts) > 1:
        with ThreadPoolExecutor(len(parts), thread_name_prefix="fraud") as pool:
            highest = max(pool.map(fill, parts))
    else:
        highest = max(map(fill, parts), default=-1)
    listeners = np.sum(counts, axis=0) if counts else np.zeros(n_artists, dtype=np.int64)
    return out._replace(listeners=listeners[: highest + 1])


def user_ranges(starts: IntArray, parts: int) -> IntArray:
    """Bounds of at most ``parts`` contiguous user ranges with about as many rows each
    (``starts`` as ``_rows_by_user`` gives it): range ``k`` is users
    ``bounds[k]:bounds[k + 1]``."""
    n_users = len(starts) - 1
    targets = np.linspace(0, starts[-1], max(1, parts) + 1)[1:-1]
    inner = np.searchsorted(starts, targets, side="left")
    bounds: IntArray = np.unique(np.concatenate([[0], inner, [n_users]]).astype(np.int64))
    if len(bounds) == 1:  # no users: one empty range
        bounds = np.zeros(2, dtype=np.int64)
    return bounds


@njit(cache=True, nogil=True)
def _fill_users(  # noqa: PLR0917 - numba takes its arguments positionally
    rows_of_log: LogRows,
    groups: TrackGroups,
    loop_limit: int,
    hashing: MinHashing,
    short_play: ShortPlay,
    starts: IntArray,
    order: IntArray,
    first: int,
    stop: int,
    out: UserFeatures,
    listeners: IntArray,
) -> int:
    """Users ``first:stop``'s features into ``out`` (and the rows' capped plays), the distinct
    listeners they add into ``listeners``; returns the highest artist index they played."""
    track, day, plays, ms_played = (
        rows_of_log.track,
        rows_of_log.day,
        rows_of_log.plays,
        rows_of_log.ms_played,
    )
    farm_like = groups.farm_like
    shortest, short_below = short_play.lowest, short_play.below
    totals, shorts, farms = out.total_plays, out.short_plays, out.farm_plays
    n_tracks, days = rows_of_log.n_tracks, rows_of_log.days
    track_label, track_artist = groups.label, groups.artist
    hash_a, hash_b, prime = hashing.a, hashing.b, hashing.prime
    n_hashes = len(hash_a)
    busiest, loop_days, distinct = out.busiest_day_plays, out.loop_days, out.distinct_items
    label_best, artist_best, artist_top = (
        out.top_label_plays,
        out.top_artist_plays,
        out.top_artist,
    )
    signatures, capped = out.signatures, out.capped_plays
    n_labels = track_label.max() + 1 if len(track_label) else 1
    n_artists = len(listeners)
    label_sums = np.zeros(n_labels, dtype=np.int64)
    label_seen = np.full(n_labels, -1, dtype=np.int64)
    artist_sums = np.zeros(n_artists, dtype=np.int64)
    artist_seen = np.full(n_artists, -1, dtype=np.int64)
    highest_artist = -1
    longest = 0
    for u in range(first, stop):
        longest = max(longest, starts[u + 1] - starts[u])
    keys = np.empty(longest, dtype=np.int64)
    touched_labels = np.empty(longest, dtype=np.int64)
    touched_artists = np.empty(longest, dtype=np.int64)
    limit = loop_limit
    for u in range(first, stop):
        rows = order[starts[u] : starts[u + 1]]
        count = len(rows)
        labels_touched, artists_touched = 0, 0
        for k in range(count):
            row = rows[k]
            played = plays[row]
            totals[u] += played
            per_play = ms_played[row] / max(played, 1)
            if per_play >= shortest and per_play < short_below:
                shorts[u] += played
            if farm_like[track[row]]:
                farms[u] += played
            keys[k] = day[row] * n_tracks + track[row]
            label = track_label[track[row]]
            if label_seen[label] != u:
                label_seen[label] = u
                touched_labels[labels_touched] = label
                labels_touched += 1
            label_sums[label] += plays[row]
            artist = track_artist[track[row]]
            if artist_seen[artist] != u:
                artist_seen[artist] = u
                touched_artists[artists_touched] = artist
                artists_touched += 1
                listeners[artist] += 1
                highest_artist = max(highest_artist, artist)
            artist_sums[artist] += plays[row]
        label_best[u], _ = _top_group(touched_labels, labels_touched, label_sums)
        artist_best[u], artist_top[u] = _top_group(touched_artists, artists_touched, artist_sums)
        by_item = np.argsort(keys[:count], kind="mergesort")
        current_day, day_plays, looped = -1, 0, False
        start = 0
        while start < count:
            key = keys[by_item[start]]
            end, item_plays = start, 0
            while end < count and keys[by_item[end]] == key:
                item_plays += plays[rows[by_item[end]]]
                end += 1
            item_day = key // n_tracks
            if item_day != current_day:
                busiest[u] = max(busiest[u], day_plays)
                loop_days[u] += looped
                current_day, day_plays, looped = item_day, 0, False
            day_plays += item_plays
            looped |= item_plays > limit
            distinct[u] += 1
            item = (key % n_tracks) * days + item_day
            for h in range(n_hashes):
                signatures[u, h] = min(signatures[u, h], (hash_a[h] * item + hash_b[h]) % prime)
            scale = min(1.0, limit / max(item_plays, 1))
            for k in range(start, end):
                row = rows[by_item[k]]
                capped[row] = max(1, np.floor(plays[row] * scale))
            start = end
        busiest[u] = max(busiest[u], day_plays)
        loop_days[u] += looped
    return highest_artist
