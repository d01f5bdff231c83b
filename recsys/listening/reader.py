"""Columnar reader for ``listens/*.csv`` into compact integer arrays.

A service's listening log is the largest input by far, so rows are never held as Python
objects. Each file is read in blocks of whole lines; pyarrow's CSV parser splits a block into
columns and dictionary-encodes its ids; each block's distinct track ids are found in the
catalogue by compiled code (``CatalogIds``) and its timestamps read as days the same way
(``plain_utc_days``), so Python touches only the distinct user ids and the new ids (judged
valid in Arrow) and numpy does the rest. Parsing holds no GIL and no shared state, so the next
blocks are parsed on threads while this one is mapped onto the vocabularies, which has to go in
file order (new ids are numbered by first appearance). A block with anything unusual in it
(quotes, a blank line, bytes that are not UTF-8, a value that breaks a rule) is read again in
smaller pieces, and a piece that still fails line by line under the same rules, so every bad
row is reported with file and line.
Plays of tracks the catalog does not know are counted and dropped; opted-out and erased users
never enter the log at all.
"""

from __future__ import annotations

import csv
from collections import Counter, deque
from collections.abc import Collection, Container, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pool.feeds import split_csv_line, without_bom
from pool.fields import MAX_ID_LENGTH
from pool.model import FeedIssue
from recsys.domain.vocabulary import Vocabulary
from recsys.listening.id_lookup import CatalogIds
from recsys.listening.plain_stamps import plain_utc_days

LISTENS_GLOB = "listens/*.csv"
COLUMNS = ("user_id", "track_id", "played_at", "ms_played", "plays")
MAX_PLAYS_PER_ROW = 100_000
MAX_ISSUES_KEPT = 200
# A block is parsed as one table; a bigger one repeats fewer ids across blocks (each block's
# distinct user ids are looked up in Python), a smaller one holds less memory while it is parsed
# (about ten times its size) and costs less to re-read when it is bad.
CHUNK_BYTES = 16 << 20
# A bad block is retried columnar in pieces of this many lines before going line by line.
PIECE_LINES = 4096
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


# Arrow splits on commas and line ends only: quoting is refused before a block reaches it (the
# row-by-row path owns CSV quoting, so that a quoted value cannot span lines).
_PARSE_OPTIONS = pa_csv.ParseOptions(
    delimiter=",",
    quote_char=False,
    double_quote=False,
    escape_char=False,
    newlines_in_values=False,
    ignore_empty_lines=False,
)


def string_columns(
    block: bytes, names: list[str], wanted: list[str], *, check_utf8: bool = True
) -> pa.Table:
    """The ``wanted`` of a block's columns (all called ``names``), parsed by Arrow as strings
    in one table; ``ArrowInvalid`` on a row with another count of fields. A quote is no CSV
    quoting here: callers leave a block with one to the row-by-row rules."""
    return pa_csv.read_csv(
        pa.py_buffer(block),
        # One block of Arrow's for the whole block: one chunk per column, no copy
        read_options=pa_csv.ReadOptions(column_names=names, block_size=len(block) + 1),
        parse_options=_PARSE_OPTIONS,
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(wanted, pa.string()),
            include_columns=wanted,
            null_values=[],
            strings_can_be_null=False,
            check_utf8=check_utf8,
        ),
    )


def _integers(column: pa.StringArray) -> npt.NDArray[np.int64]:
    """Plain decimal integers as int64; ``ArrowInvalid`` on anything else.

    Only ASCII digits are read here: Arrow also reads ``0x1f`` as 31 and `` 5`` as 5, and
    whether Python's ``int`` (the row-by-row rule) agrees is left to that rule."""
    if not pc.all(pc.ascii_is_decimal(column)).as_py():
        raise pa.ArrowInvalid("not only decimal digits")
    numbers: npt.NDArray[np.int64] = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
    return numbers


def _utc_days(stamps: pa.StringArray) -> npt.NDArray[np.int64]:
    """UTC days since 1970-01-01 of ISO 8601 timestamps, exactly as ``_day_number`` reads them.

    Stamps of the plain UTC form are read from their bytes in compiled code (digits,
    separators and calendar ranges checked, so each is one ``datetime.fromisoformat`` accepts,
    with the same date: ``plain_utc_days``); every other stamp (an offset, a fraction, another
    form) goes through ``_day_numbers``, which raises ``ValueError`` or ``OverflowError`` on a
    bad one."""
    count = len(stamps)
    offsets = np.frombuffer(stamps.buffers()[1], dtype=np.int32)[
        stamps.offset : stamps.offset + count + 1
    ]
    data = np.frombuffer(stamps.buffers()[2] or b"", dtype=np.uint8)
    days, ok = plain_utc_days(offsets, data)
    others = np.flatnonzero(~ok)
    if len(others):
        days[others] = _day_numbers(stamps.take(pa.array(others)).to_pylist())
    return days


class _Ids(NamedTuple):
    """One id column of a block: each row's code into the block's distinct ids (numbered by
    first appearance), the distinct ids, which of them are valid ids (``_valid_id``), judged
    in Arrow when the block is ASCII, else None (each new one is checked in Python), and, for
    track ids, each one's position in the catalogue (-1: not there; None for user ids)."""

    codes: npt.NDArray[np.int32]
    ids: list[str]
    valid: npt.NDArray[np.bool_] | None
    catalog: npt.NDArray[np.int64] | None = None


def _encoded_ids(
    column: pa.StringArray, *, ascii_only: bool, catalog: CatalogIds | None = None
) -> _Ids:
    encoded = pc.dictionary_encode(column)
    codes: npt.NDArray[np.int32] = encoded.indices.to_numpy(zero_copy_only=False)
    distinct = encoded.dictionary
    valid = ascii_valid_ids(distinct) if ascii_only else None
    positions = catalog.positions(distinct) if catalog is not None else None
    return _Ids(codes, distinct.to_pylist(), valid, positions)


def ascii_valid_ids(ids: pa.StringArray) -> npt.NDArray[np.bool_]:
    """``_valid_id``'s rule for ASCII ids, in Arrow: 1 to ``MAX_ID_LENGTH`` characters, every
    one printable, no space at either end (the only printable ASCII that ``strip`` removes)."""
    length = pc.binary_length(ids)
    valid = pc.and_(
        pc.and_(pc.greater_equal(length, 1), pc.less_equal(length, MAX_ID_LENGTH)),
        pc.and_(
            pc.ascii_is_printable(ids),
            pc.invert(pc.or_(pc.starts_with(ids, " "), pc.ends_with(ids, " "))),
        ),
    )
    result: npt.NDArray[np.bool_] = valid.to_numpy(zero_copy_only=False)
    return result


def _row_ids(values: Sequence[str], catalog: CatalogIds | None = None) -> _Ids:
    """``_Ids`` of ids read line by line (each new one checked in Python)."""
    encoded = pc.dictionary_encode(pa.array(values, type=pa.string()))
    codes: npt.NDArray[np.int32] = encoded.indices.to_numpy(zero_copy_only=False)
    distinct = encoded.dictionary
    positions = catalog.positions(distinct) if catalog is not None else None
    return _Ids(codes, distinct.to_pylist(), None, positions)


def _check_new(ids: _Ids, position: int, key: str) -> str:
    """The distinct id at ``position``, which no kept row named before: ``_RowError`` unless
    it is a valid id."""
    ident = ids.ids[position]
    if ids.valid is None:
        _valid_id(ident, key)
    elif not ids.valid[position]:
        raise _RowError(key, f"field '{key}': not a valid id")
    return ident


def _vocabulary_indices(
    ids: _Ids,
    found: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    vocabulary: Vocabulary,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """The vocabulary indices of the kept rows' ids (``found``: each distinct id's index, -1
    when new), new ids added in the order of the first kept row that names them, as a reader
    going row by row adds them; and ``found`` with the added ids' indices."""
    kept_codes = ids.codes if keep.all() else ids.codes[keep]
    new = found < 0
    if new.any():
        if keep.all():  # every distinct id is named by a kept row, in first-appearance order
            order = np.flatnonzero(new)
        else:
            named, first = np.unique(kept_codes[new[kept_codes]], return_index=True)
            order = named[np.argsort(first, kind="stable")]
        if len(order):
            start = vocabulary.extend_new([ids.ids[i] for i in order.tolist()])
            found = found.copy()
            found[order] = np.arange(start, start + len(order))
    kept_indices: npt.NDArray[np.int32] = found[kept_codes].astype(np.int32)
    return kept_indices, found


class _Rows(NamedTuple):
    """Parsed rows of a block: ids as codes into the block's distinct ids, numbers as arrays."""

    users: _Ids
    tracks: _Ids
    days: npt.NDArray[np.int64]
    ms_played: npt.NDArray[np.int64]
    plays: npt.NDArray[np.int64]


def whole_line_blocks(handle: BinaryIO, first: int) -> Iterator[tuple[bytes, int]]:
    """``handle``'s rest in blocks of about ``CHUNK_BYTES`` of whole lines, each with the
    number of its first line (``first`` for the first), so line numbers hold."""
    while block := handle.read(CHUNK_BYTES):
        if not block.endswith(b"\n"):
            block += handle.readline()
        yield block, first
        first += block.count(b"\n") + (not block.endswith(b"\n"))


def _parse_columnar(
    block: bytes, columns: tuple[int, ...], width: int, catalog: CatalogIds
) -> _Rows | None:
    """A block of clean rows parsed into columns, or None on any anomaly. Touches no shared
    state, so blocks can be parsed on several threads at once.

    Accepts only what the row-by-row rules accept, with the same values: a block with a quote
    (CSV quoting), a blank line, a lone carriage return or invalid UTF-8 anywhere is left to
    them, and so is any value that Arrow might read differently from Python. New ids are
    checked when the rows are kept (``_Accumulator._admit``), against the vocabularies; track
    ids are looked up in ``catalog`` here, off the thread that keeps the blocks."""
    ascii_only = block.isascii()
    if not ascii_only:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if b'"' in block:
        return None
    carriage_returns = block.count(b"\r")
    if carriage_returns and carriage_returns != block.count(b"\r\n"):
        return None  # Arrow ends a line at a lone one; the row-by-row rule does not
    names = [f"f{i}" for i in range(width)]
    wanted = [names[i] for i in columns]
    try:
        # check_utf8 off: the whole block was checked above
        table = string_columns(block, names, wanted, check_utf8=False)
        if any(table.column(name).null_count for name in wanted):
            return None  # Arrow reads a blank line as a row of nulls
        users, tracks, stamps, ms_column, plays_column = (
            table.column(name).combine_chunks() for name in wanted
        )
        plays = _integers(plays_column)
        ms_played = _integers(ms_column)
        days = _utc_days(stamps)
        user_ids = _encoded_ids(users, ascii_only=ascii_only)
        track_ids = _encoded_ids(tracks, ascii_only=ascii_only, catalog=catalog)
    except (pa.ArrowInvalid, ValueError, OverflowError):
        return None
    if not (
        (plays >= 1).all()
        and (plays <= MAX_PLAYS_PER_ROW).all()
        and (ms_played >= 1).all()
        and (ms_played <= plays * 24 * 3_600_000).all()
    ):
        return None
    return _Rows(user_ids, track_ids, days, ms_played, plays)


class _Accumulator:
    """Vocabularies, and the integer columns of the rows kept so far, block by block."""

    def __init__(
        self,
        catalog_tracks: Collection[str],
        excluded_users: Container[str],
        erased_users: Container[str],
    ) -> None:
        self.catalog = CatalogIds(catalog_tracks)
        # The track vocabulary's index of each catalogue track (-1: no row kept names it yet).
        self.track_of_catalog = np.full(len(self.catalog), -1, np.int64)
        self.excluded_users = excluded_users
        self.erased_users = erased_users
        self.users, self.tracks = Vocabulary(), Vocabulary()
        self.columns: dict[str, list[npt.NDArray[np.int64] | npt.NDArray[np.int32]]] = {
            name: [] for name in ("user", "track", "day", "ms", "plays")
        }
        self.report = ListenReport()

    def read_file(
        self, path: Path, label: str, executor: Executor | None = None, ahead: int = 0
    ) -> None:
        """Every block of ``path`` in order. With ``executor``, up to ``ahead`` blocks after
        the current one are parsed on its threads (Arrow and numpy let go of the GIL) while
        this thread maps the current one onto the vocabularies, which must go in file order."""
        self.report.files += 1
        with path.open("rb") as handle:
            header = self._read_header(handle, label)
            if header is None:
                return
            columns, width, number = header
            pending: deque[tuple[bytes, int, Future[_Rows | None] | None]] = deque()
            ahead_count = ahead if executor is not None else 0
            blocks = whole_line_blocks(handle, number + 1)
            while True:
                while len(pending) <= ahead_count and (item := next(blocks, None)) is not None:
                    block, first = item
                    parsing = (
                        executor.submit(_parse_columnar, block, columns, width, self.catalog)
                        if executor is not None
                        else None
                    )
                    pending.append((block, first, parsing))
                if not pending:
                    break
                block, first, parsing = pending.popleft()
                rows = (
                    parsing.result()
                    if parsing is not None
                    else _parse_columnar(block, columns, width, self.catalog)
                )
                self._add_block(block, first, columns, width, label, parsed=rows)

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

    def _add_block(
        self,
        block: bytes,
        first: int,
        columns: tuple[int, ...],
        width: int,
        label: str,
        *,
        parsed: _Rows | None,
    ) -> None:
        """A block of whole lines, ``parsed`` by ``_parse_columnar`` (None: not clean): kept
        columnar when it is clean, else piece by piece, and a piece that is not clean line by
        line (the only path that can name a bad row)."""
        if parsed is not None and self._admit(parsed):
            return
        raws = block.split(b"\n")
        if raws[-1] == b"":
            raws.pop()
        for start in range(0, len(raws), PIECE_LINES):
            piece = raws[start : start + PIECE_LINES]
            if len(raws) > PIECE_LINES and self._add_columnar(
                b"\n".join(piece) + b"\n", columns, width
            ):
                continue
            self._add_row_by_row(piece, first + start, columns, width, label)

    def _add_columnar(self, block: bytes, columns: tuple[int, ...], width: int) -> bool:
        """The fast path for a block of clean rows; False (and nothing added) on any anomaly."""
        rows = _parse_columnar(block, columns, width, self.catalog)
        return rows is not None and self._admit(rows)

    def _admit(self, rows: _Rows) -> bool:
        """Keep a clean block's rows, unless one of its new ids is not valid: then False and
        nothing added (the block goes the slow way, which names the row)."""
        try:
            user_status, user_found = self._user_status(rows.users)
            track_known, track_found = self._track_known(rows.tracks)
        except ValueError:  # _RowError
            return False
        self.report.rows += len(rows.plays)
        self._keep(rows, user_status, track_known, (user_found, track_found))
        return True

    def _user_status(self, users: _Ids) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
        """Per distinct user of a block: 0 to keep, 1 erased, 2 opted out, and its index in
        the vocabulary (-1: new); a new id that is not valid raises ``_RowError``. A user
        already in the vocabulary was kept before."""
        erased, excluded = self.erased_users, self.excluded_users
        found = np.fromiter(
            self.users.indices_or(users.ids, -1), dtype=np.int64, count=len(users.ids)
        )
        status = np.zeros(len(found), dtype=np.int8)
        for position in np.flatnonzero(found < 0).tolist():
            ident = _check_new(users, position, "user_id")
            status[position] = 1 if ident in erased else 2 if ident in excluded else 0
        return status, found

    def _track_known(self, tracks: _Ids) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Per distinct track of a block: in the catalog? and its index in the vocabulary
        (-1: new). A new id that is not valid raises ``_RowError``. Found through the
        catalogue positions the parse looked up (``CatalogIds``), not id by id in Python."""
        positions = tracks.catalog
        if positions is None:
            raise RuntimeError("track ids are parsed with their catalogue positions")
        known = positions >= 0
        found = np.full(len(positions), -1, np.int64)
        found[known] = self.track_of_catalog[positions[known]]
        new = found < 0  # ids this reader has not kept yet, in the catalogue or not
        if tracks.valid is not None:
            if not tracks.valid[new].all():
                raise _RowError("track_id", "field 'track_id': not a valid id")
        else:
            for position in np.flatnonzero(new).tolist():
                _check_new(tracks, position, "track_id")
        return known, found

    def _keep(
        self,
        rows: _Rows,
        user_status: npt.NDArray[np.int8],
        track_known: npt.NDArray[np.bool_],
        found: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    ) -> None:
        """Drop erased, opted-out and unknown-track rows (counting each), append the rest."""
        row_status = user_status[rows.users.codes]
        report = self.report
        report.erased_rows += int((row_status == 1).sum())
        report.opted_out_rows += int((row_status == 2).sum())
        live = row_status == 0
        known = track_known[rows.tracks.codes]
        unknown = live & ~known
        report.unknown_track_rows += int(unknown.sum())
        report.unknown_track_plays += int(rows.plays[unknown].sum())
        keep = live & known
        columns = self.columns
        user_found, track_found = found
        columns["user"].append(_vocabulary_indices(rows.users, user_found, keep, self.users)[0])
        track_indices, track_found_now = _vocabulary_indices(
            rows.tracks, track_found, keep, self.tracks
        )
        added = np.flatnonzero((track_found < 0) & (track_found_now >= 0))
        if len(added) and rows.tracks.catalog is not None:
            self.track_of_catalog[rows.tracks.catalog[added]] = track_found_now[added]
        columns["track"].append(track_indices)
        columns["day"].append(rows.days[keep].astype(np.int32))
        columns["ms"].append(rows.ms_played[keep])
        columns["plays"].append(rows.plays[keep].astype(np.int32))

    def _add_row_by_row(
        self, raws: list[bytes], first: int, columns: tuple[int, ...], width: int, label: str
    ) -> None:
        """Each line on its own, bad ones reported; the good ones kept in line order."""
        report = self.report
        good: list[tuple[str, str, int, int, int]] = []
        for number, raw in enumerate(raws, start=first):
            if raw.strip():
                report.rows += 1
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
            row = self._parse_row(fields, columns, width, label, number)
            if row is not None:
                good.append(row)
        if good:
            users, tracks, days, ms_played, plays = zip(*good, strict=True)
            rows = _Rows(
                _row_ids(users),
                _row_ids(tracks, self.catalog),
                np.array(days, dtype=np.int64),
                np.array(ms_played, dtype=np.int64),
                np.array(plays, dtype=np.int64),
            )
            # Every id here passed _parse_row's checks, so these raise nothing.
            user_status, user_found = self._user_status(rows.users)
            track_known, track_found = self._track_known(rows.tracks)
            self._keep(rows, user_status, track_known, (user_found, track_found))

    def _parse_row(
        self, fields: list[str], columns: tuple[int, ...], width: int, label: str, number: int
    ) -> tuple[str, str, int, int, int] | None:
        report = self.report
        if len(fields) != width:
            reason = f"has {len(fields)} fields, the header has {width}"
            report.note_issue(FeedIssue(label, number, reason), "field_count")
            return None
        u, t, p, m, n = columns
        try:
            user_id = _valid_id(fields[u], "user_id")
            track_id = _valid_id(fields[t], "track_id")
            day = _day_number(fields[p])
            plays = _positive(fields[n], "plays", MAX_PLAYS_PER_ROW)
            ms_played = _positive(fields[m], "ms_played", plays * 24 * 3_600_000)
        except _RowError as error:
            report.note_issue(FeedIssue(label, number, str(error)), error.key)
            return None
        return user_id, track_id, day, ms_played, plays

    def log(self) -> ListenLog:
        def joined(name: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
            # One column at a time, its blocks released as it is joined: peak memory stays
            # near the log's own size.
            parts = self.columns.pop(name)
            return (
                np.concatenate(parts).astype(dtype, copy=False)
                if parts
                else np.zeros(0, dtype=dtype)
            )

        return ListenLog(
            users=self.users,
            tracks=self.tracks,
            user=joined("user", np.int32),
            track=joined("track", np.int32),
            day=joined("day", np.int32),
            ms_played=joined("ms", np.int64),
            plays=joined("plays", np.int32),
        )


def read_listens(
    data_dir: Path,
    catalog_tracks: Collection[str],
    *,
    excluded_users: Container[str] = frozenset(),
    erased_users: Container[str] = frozenset(),
    threads: int = 1,
) -> tuple[ListenLog, ListenReport]:
    """Read every ``listens/*.csv`` file, in name order, into one ``ListenLog``.

    With ``threads`` above 1, blocks are parsed that many at a time ahead of the one being
    kept; the log is the same for any number.

    ``excluded_users`` (opted out of personalisation) and ``erased_users`` (tombstones) are
    dropped as they are read, so their listens never reach fraud screening or training.
    """
    accumulator = _Accumulator(catalog_tracks, excluded_users, erased_users)
    paths = sorted(data_dir.glob(LISTENS_GLOB))
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="listens") as executor:
        for path in paths:
            label = str(path.relative_to(data_dir))
            accumulator.read_file(path, label, executor if threads > 1 else None, threads)
    log = accumulator.log()
    accumulator.report.kept_rows = len(log)
    return log, accumulator.report
