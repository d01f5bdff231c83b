"""The listens reader as it was before columnar ingestion (commit 5bc8ae6), kept only as the
reference that ``test_columnar_equivalence`` holds the production code to: the same arrays,
reports and verdicts for the same input. Not a second production path."""

from __future__ import annotations

import csv
from array import array
from collections import Counter
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from pool.feeds import split_csv_line, without_bom
from pool.fields import MAX_ID_LENGTH
from pool.model import FeedIssue
from recsys.domain.vocabulary import Vocabulary

LISTENS_GLOB = "listens/*.csv"
COLUMNS = ("user_id", "track_id", "played_at", "ms_played", "plays")
MAX_PLAYS_PER_ROW = 100_000
MAX_ISSUES_KEPT = 200
CHUNK_BYTES = 8 << 20
_EPOCH = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class ListenLog:
    """One entry per kept row: who played which catalog track, which day, how long, how often."""

    users: Vocabulary
    tracks: Vocabulary
    user: npt.NDArray[np.int32]
    track: npt.NDArray[np.int32]
    day: npt.NDArray[np.int32]  # days since 1970-01-01
    ms_played: npt.NDArray[np.int64]
    plays: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.user.shape[0])


@dataclass(slots=True)
class ListenReport:
    files: int = 0
    rows: int = 0
    kept_rows: int = 0
    bad_rows: int = 0
    unknown_track_rows: int = 0
    unknown_track_plays: int = 0
    opted_out_rows: int = 0
    erased_rows: int = 0
    issues: list[FeedIssue] = field(default_factory=list)
    issues_by_field: Counter[str] = field(default_factory=Counter)

    def note_issue(self, issue: FeedIssue, key: str) -> None:
        self.bad_rows += 1
        self.issues_by_field[key] += 1
        if len(self.issues) < MAX_ISSUES_KEPT:
            self.issues.append(issue)

    def summary(self) -> dict[str, object]:
        return {
            "files": self.files,
            "rows": self.rows,
            "kept_rows": self.kept_rows,
            "bad_rows": self.bad_rows,
            "bad_rows_by_field": dict(sorted(self.issues_by_field.items())),
            "unknown_track_rows": self.unknown_track_rows,
            "unknown_track_plays": self.unknown_track_plays,
            "opted_out_rows": self.opted_out_rows,
            "erased_rows": self.erased_rows,
            "first_issues": [str(i) for i in self.issues[:10]],
        }


class _RowError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _valid_id(value: str, key: str) -> str:
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable() or value != value.strip():
        raise _RowError(key, f"field '{key}': not a valid id")
    return value


def _day_number(value: str) -> int:
    """The UTC day of a play, as days since 1970-01-01."""
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            # OverflowError: 0001-01-01T00:00+01:00 is a valid text, but before year 1 in UTC.
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        reason = f"field 'played_at': not an ISO 8601 timestamp of years 1-9999: {value!r}"
        raise _RowError("played_at", reason) from None
    return parsed.toordinal() - _EPOCH


_ZERO = timedelta(0)


def _day_numbers(stamps: list[str]) -> npt.NDArray[np.int64]:
    """UTC days of many timestamps, each validated by ``datetime.fromisoformat``.

    When every zone is UTC or absent (the usual case) a day is the parsed date as is;
    otherwise each is converted on its own. The zones are judged on the parsed values, never
    on the text: ``2026-11-01T02+05:00`` is a day earlier in UTC than its date part says, and
    numpy would read the basic form ``20261101`` as the year 20261101."""
    parsed = list(map(datetime.fromisoformat, stamps))  # ValueError on any malformed one
    zones = set(map(attrgetter("tzinfo"), parsed))
    if all(zone is None or zone.utcoffset(None) == _ZERO for zone in zones):
        ordinals = np.fromiter(map(datetime.toordinal, parsed), dtype=np.int64, count=len(parsed))
        return ordinals - _EPOCH
    return np.array(  # OverflowError: an instant before year 1 or after 9999 in UTC
        [(p.astimezone(UTC) if p.tzinfo is not None else p).toordinal() - _EPOCH for p in parsed],
        dtype=np.int64,
    )


def _positive(value: str, key: str, maximum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _RowError(key, f"field '{key}': not an integer: {value!r}") from None
    if number <= 0 or number > maximum:
        raise _RowError(key, f"field '{key}': must be between 1 and {maximum}, got {number}")
    return number


def _split(text: str) -> list[str]:
    # Plain rows need no CSV machinery; quoted ones (an id with a comma) get the same parser
    # as every other feed, which refuses a value that spans lines.
    return split_csv_line(text) if '"' in text else text.split(",")


class _Accumulator:
    """Typed buffers and vocabularies that good rows are appended to."""

    def __init__(
        self,
        catalog_tracks: Container[str],
        excluded_users: Container[str],
        erased_users: Container[str],
    ) -> None:
        self.catalog_tracks = catalog_tracks
        self.excluded_users = excluded_users
        self.erased_users = erased_users
        self.users, self.tracks = Vocabulary(), Vocabulary()
        self.user, self.track, self.day = array("i"), array("i"), array("i")
        self.ms, self.plays = array("q"), array("i")
        self.report = ListenReport()

    def read_file(self, path: Path, label: str) -> None:
        self.report.files += 1
        with path.open("rb") as handle:
            header = self._read_header(handle, label)
            if header is None:
                return
            columns, width, number = header
            while raws := handle.readlines(CHUNK_BYTES):
                first, number = number + 1, number + len(raws)
                self.report.rows += sum(1 for raw in raws if raw.strip())
                if not self._add_chunk(raws, columns, width):
                    self._add_chunk_row_by_row(raws, first, columns, width, label)

    def _read_header(self, handle: BinaryIO, label: str) -> tuple[tuple[int, ...], int, int] | None:
        for number, raw in enumerate(handle, start=1):
            try:
                text = without_bom(raw, number).decode("utf-8").strip()
            except UnicodeDecodeError:
                text = "\ufffd"
            if not text:
                continue
            try:
                header = [name.strip() for name in _split(text)]
            except csv.Error as error:
                reason = f"malformed CSV header ({error}); file skipped"
                self.report.note_issue(FeedIssue(label, number, reason), "header")
                return None
            missing = [name for name in COLUMNS if name not in header]
            if missing:
                reason = f"header lacks column(s) {', '.join(missing)}; file skipped"
                self.report.note_issue(FeedIssue(label, number, reason), "header")
                return None
            return tuple(header.index(name) for name in COLUMNS), len(header), number
        return None

    def _add_chunk(self, raws: list[bytes], columns: tuple[int, ...], width: int) -> bool:
        """The fast path for a chunk of clean rows; False (and nothing added) on any anomaly,
        so the row-by-row path can name each bad row.

        Column-wise and C-speed where it can be: one split of the whole chunk, columns by
        slicing, numbers and dates converted by numpy, ids checked once per distinct value.
        """
        try:
            text = b"".join(raws).decode("utf-8")
        except UnicodeDecodeError:
            return False
        if '"' in text or "\r" in text:
            return False
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if any(count != width - 1 for count in map(str.count, lines, repeat(",", len(lines)))):
            return False  # a row with another number of fields, or a blank line
        fields = ",".join(lines).split(",") if lines else []
        u, t, p, m, n = columns
        users, tracks, stamps = fields[u::width], fields[t::width], fields[p::width]
        try:
            plays = np.array(fields[n::width], dtype=np.int64)
            ms_played = np.array(fields[m::width], dtype=np.int64)
            days = _day_numbers(stamps)
            for ident in set(users):
                if ident not in self.users:
                    _valid_id(ident, "user_id")
            for ident in set(tracks):
                if ident not in self.tracks:
                    _valid_id(ident, "track_id")
        except (ValueError, OverflowError):  # _RowError is a ValueError
            return False
        if lines and not (
            (plays >= 1).all()
            and (plays <= MAX_PLAYS_PER_ROW).all()
            and (ms_played >= 1).all()
            and (ms_played <= plays * 24 * 3_600_000).all()
        ):
            return False
        self._keep(users, tracks, days, ms_played, plays)
        return True

    def _keep(
        self,
        users: Sequence[str],
        tracks: Sequence[str],
        days: npt.NDArray[np.int64],
        ms_played: npt.NDArray[np.int64],
        plays: npt.NDArray[np.int64],
    ) -> None:
        """Drop erased, opted-out and unknown-track rows (counting each), append the rest."""
        status = {
            user_id: 1
            if user_id in self.erased_users
            else 2
            if user_id in self.excluded_users
            else 0
            for user_id in set(users)
        }
        known = {track_id: track_id in self.catalog_tracks for track_id in set(tracks)}
        user_status = np.fromiter(map(status.__getitem__, users), dtype=np.int8, count=len(users))
        track_known = np.fromiter(map(known.__getitem__, tracks), dtype=bool, count=len(tracks))
        report = self.report
        report.erased_rows += int((user_status == 1).sum())
        report.opted_out_rows += int((user_status == 2).sum())
        unknown = (user_status == 0) & ~track_known
        report.unknown_track_rows += int(unknown.sum())
        report.unknown_track_plays += int(plays[unknown].sum())
        keep = (user_status == 0) & track_known
        if keep.all():
            kept_users, kept_tracks = users, tracks
        else:
            rows = np.flatnonzero(keep).tolist()
            kept_users = [users[i] for i in rows]
            kept_tracks = [tracks[i] for i in rows]
        self.user.extend(self.users.add_many(kept_users))
        self.track.extend(self.tracks.add_many(kept_tracks))
        self.day.extend(days[keep].tolist())
        self.ms.extend(ms_played[keep].tolist())
        self.plays.extend(plays[keep].tolist())

    def _add_chunk_row_by_row(
        self, raws: list[bytes], first: int, columns: tuple[int, ...], width: int, label: str
    ) -> None:
        report = self.report
        for number, raw in enumerate(raws, start=first):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                reason = f"not valid UTF-8 (byte {error.start})"
                report.note_issue(FeedIssue(label, number, reason), "encoding")
                continue
            if not text.strip():
                continue
            try:
                fields = _split(text)
            except csv.Error as error:
                report.note_issue(FeedIssue(label, number, f"malformed CSV ({error})"), "csv")
                continue
            self._add_row(fields, columns, width, label, number)

    def _add_row(
        self, fields: list[str], columns: tuple[int, ...], width: int, label: str, number: int
    ) -> None:
        report = self.report
        if len(fields) != width:
            reason = f"has {len(fields)} fields, the header has {width}"
            report.note_issue(FeedIssue(label, number, reason), "field_count")
            return
        u, t, p, m, n = columns
        try:
            user_id = _valid_id(fields[u], "user_id")
            track_id = _valid_id(fields[t], "track_id")
            day = _day_number(fields[p])
            plays = _positive(fields[n], "plays", MAX_PLAYS_PER_ROW)
            ms_played = _positive(fields[m], "ms_played", plays * 24 * 3_600_000)
        except _RowError as error:
            report.note_issue(FeedIssue(label, number, str(error)), error.key)
            return
        self._keep([user_id], [track_id], np.array([day]), np.array([ms_played]), np.array([plays]))

    def log(self) -> ListenLog:
        return ListenLog(
            users=self.users,
            tracks=self.tracks,
            user=np.array(self.user, dtype=np.int32),
            track=np.array(self.track, dtype=np.int32),
            day=np.array(self.day, dtype=np.int32),
            ms_played=np.array(self.ms, dtype=np.int64),
            plays=np.array(self.plays, dtype=np.int32),
        )


def read_listens(
    data_dir: Path,
    catalog_tracks: Container[str],
    *,
    excluded_users: Container[str] = frozenset(),
    erased_users: Container[str] = frozenset(),
) -> tuple[ListenLog, ListenReport]:
    """Read every ``listens/*.csv`` file, in name order, into one ``ListenLog``.

    ``excluded_users`` (opted out of personalisation) and ``erased_users`` (tombstones) are
    dropped as they are read, so their listens never reach fraud screening or training.
    """
    accumulator = _Accumulator(catalog_tracks, excluded_users, erased_users)
    for path in sorted(data_dir.glob(LISTENS_GLOB)):
        accumulator.read_file(path, str(path.relative_to(data_dir)))
    log = accumulator.log()
    accumulator.report.kept_rows = len(log)
    return log, accumulator.report
