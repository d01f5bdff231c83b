"""A data directory with a holdout, built from real Last.fm listening (hetrec2011-lastfm-2k).

docs/contract.md section 7 asks whether the artists new to a listener in their mixes are artists
the listener went on to play. hetrec gives real (user, artist, play count) pairs but no catalogue,
no dates and no trust registry, so this module dresses it up as a data directory (section 2)
that the whole pipeline can import, and holds a fifth of every listener's artists out of it:

* catalogue: every artist of ``artists.dat`` as a verified artist, under one trusted partner;
  ``tracks_per_artist`` tracks each ("<name> track 1", ...), each its own single, with a unique
  ISRC, ``ai_declaration`` "none" and the artist's most used tags. Tracks go to one of
  ``labels`` trusted labels at random: with a single label every listener would send all their
  plays to it, which the fraud screen's ``label_concentration`` rule flags as fraud;
* release dates: ``recent_release_share`` of the tracks in the last ``recent_release_days``
  days (so Release Radar has releases), the rest spread over the year before;
* the split: each listener's (user, artist) pairs split ``1 - test_fraction`` / ``test_fraction``
  by ``recsys.evaluation.split.train_test_split`` with the seed (the split of ``recsys
  evaluate`` on the hetrec folder); the held-out pairs go to ``holdout.csv`` and never into the
  listens, and their tag assignments are left out of the catalogue's tags (users tag what they
  play, so those tags would leak the holdout into the engine's tag side information);
* a validation directory (``validation``): the same, but the test pairs are left out
  altogether and a validation split carved from the training pairs is held out instead, so
  settings are tuned on it without the test holdout ever being read;
* listens: each kept pair's real play count, cut into sittings of at most ``session_plays``
  plays, shuffled over the listener's year and laid on ``listen_days`` days before ``today``
  with at most ``max_plays_per_day`` plays a day; each day's plays of an artist go to the
  fewest of its tracks that keep every track within ``track_plays_per_day`` (30) plays a day,
  what the fraud screen still takes for a person (see ``share_over_tracks``).
  A listener's year holds at most ``max_plays_per_day * listen_days`` plays: heavier
  listeners' counts are scaled down in proportion (each pair keeps at least one play), so
  their ranking of artists survives while the total is capped (hetrec has listeners with
  480,000 plays, 350,000 of them on one artist). One row per (listener, track, day), with
  ``plays`` > 1 where the day held several, ``ms_played`` the full track each time.

Every random choice comes from the seed (the split from the seed itself, the catalogue and the
listens from independent streams of it) and the clock from ``today``, so a (folder, seed, today)
always gives the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recsys.evaluation.hetrec import USER_ARTISTS, HetrecData, load_hetrec
from recsys.evaluation.holdout import HOLDOUT_FILE
from recsys.evaluation.split import DEFAULT_TEST_FRACTION, train_test_split, validation_split
from recsys.world.writer import LISTENS_HEADER

__all__ = [
    "HetrecWorldConfig",
    "ListenerRows",
    "build_hetrec_data_dir",
    "day_layout",
    "listener_rows",
    "scale_to_budget",
    "share_over_tracks",
]

PARTNER_ID = "hetrec2011"
STAFF = "hetrec-builder"
#: a person plays one track at most this often a day; the fraud screen's default loop limit
MAX_TRACK_PLAYS_PER_DAY = 30
#: listeners per listens/part-NNNN.csv file
USERS_PER_FILE = 500
SECONDS_PER_DAY = 86_400
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_NAME = 900  # leaves room for " track N" under the feed's 1,024-character limit

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class HetrecWorldConfig:
    """How to dress hetrec up as a data directory; see the module docstring for each part."""

    seed: int
    today: date
    tracks_per_artist: int = 3
    labels: int = 60
    listen_days: int = 365
    max_plays_per_day: int = 90
    track_plays_per_day: int = MAX_TRACK_PLAYS_PER_DAY
    session_plays: int = 30
    recent_release_share: float = 0.1
    recent_release_days: int = 14
    top_tags: int = 10
    test_fraction: float = DEFAULT_TEST_FRACTION
    # A validation directory: the test pairs are left out altogether, and a validation split
    # carved from the training pairs (``split.validation_split``) is held out instead, so
    # generator settings are chosen without the test holdout ever being read.
    validation: bool = False

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        for name in ("tracks_per_artist", "labels", "listen_days", "max_plays_per_day"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 1 <= self.session_plays <= self.max_plays_per_day:
            raise ValueError("session_plays must be between 1 and max_plays_per_day")
        if not 1 <= self.track_plays_per_day <= MAX_TRACK_PLAYS_PER_DAY:
            raise ValueError(f"track_plays_per_day must be between 1 and {MAX_TRACK_PLAYS_PER_DAY}")
        if self.max_plays_per_day > self.tracks_per_artist * self.track_plays_per_day:
            raise ValueError(
                f"max_plays_per_day {self.max_plays_per_day} does not fit "
                f"{self.tracks_per_artist} track(s) of {self.track_plays_per_day} plays a day"
            )
        if not 0.0 <= self.recent_release_share <= 1.0:
            raise ValueError("recent_release_share must be between 0 and 1")
        if not 1 <= self.recent_release_days < self.listen_days:
            raise ValueError("recent_release_days must be between 1 and listen_days - 1")

    @property
    def budget(self) -> int:
        """Most plays one listener's year can hold."""
        return self.max_plays_per_day * self.listen_days


# ------------------------------------------------------------------------------ pure parts


def scale_to_budget(plays: IntArray, budget: int) -> IntArray:
    """A listener's play counts, scaled down in proportion when they sum above ``budget``.

    Each count stays at least 1 (a pair listened to stays listened to) and the sum never
    exceeds ``budget``: ``floor(p * (budget - n) / total) + 1`` over the ``n`` pairs.
    """
    total = int(plays.sum())
    if total <= budget:
        return plays
    if len(plays) > budget:
        raise ValueError(f"{len(plays)} pairs cannot each keep a play within {budget} plays")
    return (plays * (budget - len(plays))) // total + 1


def _sessions(plays: IntArray, session_plays: int) -> tuple[IntArray, IntArray]:
    """Each pair's plays cut into ``ceil(p / session_plays)`` near-equal sittings: (pair of
    each sitting, its plays)."""
    count = -(-plays // session_plays)
    owner = np.repeat(np.arange(len(plays), dtype=np.int64), count)
    rank = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    size = plays[owner] // count[owner] + (rank < plays[owner] % count[owner])
    return owner, size


def day_layout(
    sizes: IntArray, max_per_day: int, days: int
) -> tuple[IntArray, IntArray, IntArray, int]:
    """Lay sittings of ``sizes`` plays, in the given order, end to end over ``K`` days.

    ``K`` is as many days as sittings (each its own day) within ``days``, and at least
    ``ceil(total / max_per_day)``; day ``j`` holds plays ``[j*P//K, (j+1)*P//K)`` of the
    timeline, so no day holds more than ``ceil(P / K) <= max_per_day`` plays. A sitting that
    crosses a day boundary is cut in two. Returns (sitting, day slot, plays) per piece and
    ``K``.
    """
    total = int(sizes.sum())
    if total > max_per_day * days:
        raise ValueError(f"{total} plays do not fit {days} days of {max_per_day}")
    slots = min(days, max(len(sizes), -(-total // max_per_day)))
    bounds = (np.arange(slots + 1, dtype=np.int64) * total) // slots
    end = np.cumsum(sizes)
    start = end - sizes
    first = np.searchsorted(bounds, start, side="right") - 1
    last = np.searchsorted(bounds, end - 1, side="right") - 1
    span = last - first + 1
    sitting = np.repeat(np.arange(len(sizes), dtype=np.int64), span)
    offset = np.arange(int(span.sum()), dtype=np.int64) - np.repeat(np.cumsum(span) - span, span)
    day = np.repeat(first, span) + offset
    plays = np.minimum(end[sitting], bounds[day + 1]) - np.maximum(start[sitting], bounds[day])
    return sitting, day, plays, slots


def share_over_tracks(plays: IntArray, tracks: int, track_cap: int, rotation: IntArray) -> IntArray:
    """Each day's plays of an artist on the fewest of its ``tracks`` tracks that keep every
    track within ``track_cap`` plays, shared as evenly as possible: a ``(len(plays), tracks)``
    matrix. ``rotation`` is the first track used, so that over the days every track is played.

    The fewest, not all: two listeners who play an artist on the same day then rarely play the
    same track that day, as with people (the fraud screen's ``duplicate_histories`` rule takes
    accounts whose (track, day) histories are near copies for a bot farm).
    """
    if len(plays) and int(plays.max()) > tracks * track_cap:
        raise ValueError(f"{int(plays.max())} plays do not fit {tracks} tracks of {track_cap}")
    used = np.maximum(1, -(-plays // track_cap))
    base, extra = plays // used, plays % used
    position = (np.arange(tracks)[None, :] - rotation[:, None]) % tracks
    shares = base[:, None] + (position < extra[:, None])
    return np.where(position < used[:, None], shares, 0)


# ------------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class _Ids:
    """The directory's ids: hetrec's own, prefixed (``lfm-u2``, ``lfm-a51``, ``lfm-a51-t1``)."""

    users: list[str]
    artists: list[str]
    tracks: list[str]  # artist column * tracks_per_artist + k
    labels: list[str]


def _plain(value: str, what: str) -> str:
    if not _SAFE_ID.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not a plain id (letters, digits, '_.:-', at most 100)"
        )
    return value


def _ids(data: HetrecData, config: HetrecWorldConfig) -> _Ids:
    artists = [f"lfm-a{_plain(a, f'artist id in {USER_ARTISTS}')}" for a in data.artist_ids]
    return _Ids(
        users=[f"lfm-u{_plain(u, f'user id in {USER_ARTISTS}')}" for u in data.user_ids],
        artists=artists,
        tracks=[f"{a}-t{k + 1}" for a in artists for k in range(config.tracks_per_artist)],
        labels=[f"lfm-label-{i + 1:03d}" for i in range(config.labels)],
    )


def _name(raw: str, artist_id: str) -> str:
    """The artist's name as the feed's checks take it: no control characters, not empty."""
    name = _CONTROL.sub(" ", raw).strip()[:MAX_NAME].strip()
    return name or f"Artist {artist_id}"


def _tags(ranked: Sequence[str], top: int) -> list[str]:
    """An artist's tag names as the feed stores them (trimmed, lower case), distinct, best
    first, at most ``top``."""
    seen: list[str] = []
    for tag in ranked:
        clean = _CONTROL.sub(" ", tag).strip().lower()[:100]
        if clean and clean not in seen:
            seen.append(clean)
        if len(seen) == top:
            break
    return seen


def _isrc(index: int, year: int) -> str:
    """A unique ISRC per track: country QZ, registrant ``H`` + two base-36 digits of
    ``index // 100000``, year, designation ``index % 100000``."""
    block = index // 100_000
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    registrant = f"H{digits[block // 36 % 36]}{digits[block % 36]}"
    return f"QZ{registrant}{year % 100:02d}{index % 100_000:05d}"


def _release_days(n: int, config: HetrecWorldConfig, rng: np.random.Generator) -> IntArray:
    """Days before ``today`` each track was released: a share within the recent window."""
    recent = rng.random(n) < config.recent_release_share
    inside = rng.integers(0, config.recent_release_days, n)
    before = rng.integers(config.recent_release_days, config.listen_days, n)
    return np.where(recent, inside, before).astype(np.int64)


def _write_lines(path: Path, lines: Iterator[str] | list[str], header: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        if header is not None:
            out.write(header + "\n")
        out.writelines(line + "\n" for line in lines)


def _write_catalog(
    out: Path,
    data: HetrecData,
    *,
    tags: Sequence[Sequence[str]],
    ids: _Ids,
    config: HetrecWorldConfig,
    rng: np.random.Generator,
) -> list[int]:
    """catalog/{artists,labels,tracks}.jsonl (and an empty flags file); returns each track's
    duration, which the listens' ``ms_played`` follows."""
    names = [_name(raw, a) for raw, a in zip(data.artist_names, data.artist_ids, strict=True)]
    dump = json.dumps
    _write_lines(
        out / "catalog" / "artists.jsonl",
        [
            dump({"artist_id": a, "name": n, "partner": PARTNER_ID}, ensure_ascii=False)
            for a, n in zip(ids.artists, names, strict=True)
        ],
    )
    _write_lines(
        out / "catalog" / "labels.jsonl",
        [
            dump({"label_id": label, "name": f"HetRec Records {i + 1}", "partner": PARTNER_ID})
            for i, label in enumerate(ids.labels)
        ],
    )
    n_tracks = len(ids.tracks)
    label = rng.integers(0, config.labels, n_tracks).tolist()
    duration = rng.integers(150_000, 330_000, n_tracks).tolist()
    ordinal = config.today.toordinal()
    released = [date.fromordinal(ordinal - d) for d in _release_days(n_tracks, config, rng)]
    rows = []
    per = config.tracks_per_artist
    for t, track_id in enumerate(ids.tracks):
        artist = t // per
        title = f"{names[artist]} track {t % per + 1}"
        rows.append(
            dump(
                {
                    "track_id": track_id,
                    "title": title,
                    "artist_ids": [ids.artists[artist]],
                    "label_id": ids.labels[label[t]],
                    "release_id": f"{track_id}-single",
                    "release_title": title,
                    "release_date": released[t].isoformat(),
                    "duration_ms": duration[t],
                    "isrc": _isrc(t, released[t].year),
                    "tags": list(tags[artist]),
                    "ai_declaration": "none",
                    "partner": PARTNER_ID,
                },
                ensure_ascii=False,
            )
        )
    _write_lines(out / "catalog" / "tracks.jsonl", rows)
    _write_lines(out / "flags" / "ai_flags.jsonl", [])
    return duration


def _write_trust(out: Path, ids: _Ids, config: HetrecWorldConfig) -> None:
    """trust/*.csv: the registry a staff member imports (``recsys trust import``)."""
    at = f"{config.today.isoformat()}T00:00:00Z"
    _write_lines(
        out / "trust" / "partners.csv",
        [f"{PARTNER_ID},{STAFF},{at}"],
        "partner_id,trusted_by,trusted_at",
    )
    _write_lines(
        out / "trust" / "labels.csv",
        [f"{label},{STAFF},{at}" for label in ids.labels],
        "label_id,trusted_by,trusted_at",
    )
    _write_lines(
        out / "trust" / "artists.csv",
        [f"{artist},{STAFF},{at}" for artist in ids.artists],
        "artist_id,verified_by,verified_at",
    )


# --------------------------------------------------------------------------------- listens


@dataclass(frozen=True, slots=True)
class ListenerRows:
    """One listener's rows: track index, day (days before today), second of day, plays."""

    track: IntArray
    day: IntArray
    second: IntArray
    plays: IntArray


def listener_rows(
    artists: IntArray, plays: IntArray, config: HetrecWorldConfig, rng: np.random.Generator
) -> ListenerRows:
    """A listener's year of listening to ``artists`` (columns) with ``plays`` each: sittings
    shuffled, laid over days (``day_layout``), each (artist, day) shared over its tracks."""
    kept = scale_to_budget(plays, config.budget)
    owner, size = _sessions(kept, config.session_plays)
    order = rng.permutation(len(size))
    owner, size = owner[order], size[order]
    sitting, slot, piece_plays, slots = day_layout(
        size, config.max_plays_per_day, config.listen_days
    )
    calendar = np.sort(rng.choice(config.listen_days, size=slots, replace=False))
    # one entry per (artist, day): a day's sittings of one artist add up
    key = artists[owner[sitting]] * slots + slot
    unique, inverse = np.unique(key, return_inverse=True)
    day_plays = np.bincount(inverse, weights=piece_plays).astype(np.int64)
    per = config.tracks_per_artist
    shares = share_over_tracks(
        day_plays, per, config.track_plays_per_day, rng.integers(0, per, len(unique))
    )
    entry, k = np.nonzero(shares)
    days_back = config.listen_days - calendar[unique % slots]  # 1 .. listen_days
    return ListenerRows(
        track=(unique // slots)[entry] * per + k,
        day=days_back[entry],
        second=rng.integers(0, SECONDS_PER_DAY, len(entry)),
        plays=shares[entry, k],
    )


def _stamps(today: date, days: int) -> list[str]:
    """``YYYY-MM-DD`` of each number of days before ``today`` (index 0 is today)."""
    return [(today - timedelta(days=d)).isoformat() for d in range(days + 1)]


def _write_listens(
    out: Path,
    train: sp.csr_matrix,
    *,
    ids: _Ids,
    durations: Sequence[int],
    config: HetrecWorldConfig,
    rng: np.random.Generator,
) -> dict[str, int]:
    """listens/part-NNNN.csv, ``USERS_PER_FILE`` listeners each, rows by listener and time."""
    days = _stamps(config.today, config.listen_days)
    clock = [f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(SECONDS_PER_DAY)]
    totals = {"listen_rows": 0, "plays": 0, "listen_files": 0}
    listens = out / "listens"
    listens.mkdir(parents=True, exist_ok=True)
    for first in range(0, train.shape[0], USERS_PER_FILE):
        path = listens / f"part-{first // USERS_PER_FILE:04d}.csv"
        with path.open("wb") as handle:
            handle.write(LISTENS_HEADER)
            for user in range(first, min(first + USERS_PER_FILE, train.shape[0])):
                lo, hi = train.indptr[user], train.indptr[user + 1]
                if lo == hi:
                    continue
                plays = np.maximum(1, np.rint(train.data[lo:hi])).astype(np.int64)
                got = listener_rows(train.indices[lo:hi].astype(np.int64), plays, config, rng)
                order = np.lexsort((got.track, got.second, -got.day))
                user_id, tracks = ids.users[user], ids.tracks
                text = "".join(
                    f"{user_id},{tracks[t]},{days[d]}{clock[s]},{n * durations[t]},{n}\n"
                    for t, d, s, n in zip(
                        got.track[order].tolist(),
                        got.day[order].tolist(),
                        got.second[order].tolist(),
                        got.plays[order].tolist(),
                        strict=True,
                    )
                )
                handle.write(text.encode("utf-8"))
                totals["listen_rows"] += len(order)
                totals["plays"] += int(got.plays.sum())
        totals["listen_files"] += 1
    return totals


def _write_holdout(out: Path, test: sp.csr_matrix, ids: _Ids) -> int:
    """holdout.csv: ``user_id,artist_id``, by listener, in hetrec's artist order."""
    coo = test.tocoo()
    order = np.lexsort((coo.col, coo.row))
    _write_lines(
        out / HOLDOUT_FILE,
        [
            f"{ids.users[u]},{ids.artists[a]}"
            for u, a in zip(coo.row[order].tolist(), coo.col[order].tolist(), strict=True)
        ],
        "user_id,artist_id",
    )
    return int(test.nnz)


# ------------------------------------------------------------------------------------ edge


def _prepare(out_dir: Path) -> None:
    """Create ``out_dir``, refusing one that holds anything (as ``generate-world`` does)."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"{out_dir} exists and is not a directory")
        if any(out_dir.iterdir()):
            raise ValueError(f"{out_dir} exists and is not empty; refusing to write there")
    out_dir.mkdir(parents=True, exist_ok=True)


def build_hetrec_data_dir(
    hetrec_dir: Path, out_dir: Path, config: HetrecWorldConfig
) -> dict[str, object]:
    """Write the data directory built from the hetrec folder ``hetrec_dir`` into ``out_dir``.

    Raises ``ValueError`` with a one-line message (naming the file and line for a malformed
    hetrec file) on bad input, before anything is written. Returns counts of what was written.
    """
    data = load_hetrec(hetrec_dir, top_tags=2 * config.top_tags)
    ids = _ids(data, config)
    train, test = train_test_split(data.plays, config.seed, config.test_fraction)
    hidden = test
    if config.validation:
        train, test = validation_split(train, config.seed, config.test_fraction)
        hidden = hidden + test
    _prepare(Path(out_dir))
    catalog_rng, listen_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(2)
    )
    ranked = data.top_tags(2 * config.top_tags, exclude=hidden)
    tags = [_tags(r, config.top_tags) for r in ranked]
    durations = _write_catalog(out_dir, data, tags=tags, ids=ids, config=config, rng=catalog_rng)
    _write_trust(out_dir, ids, config)
    listened = _write_listens(
        out_dir, train, ids=ids, durations=durations, config=config, rng=listen_rng
    )
    holdout = _write_holdout(out_dir, test, ids)
    return {
        "source": "hetrec2011-lastfm-2k",
        "seed": config.seed,
        "holdout": "validation" if config.validation else "test",
        "today": config.today.isoformat(),
        "users": data.n_users,
        "artists": data.n_artists,
        "tracks": len(durations),
        "labels": config.labels,
        "train_pairs": int(train.nnz),
        "holdout_pairs": holdout,
        "listeners_with_holdout": int((np.diff(test.indptr) > 0).sum()),
        **listened,
        "plays_in_hetrec_train_pairs": int(np.rint(train.data).sum()),
    }
