"""Vectorised text encoding: CSV rows and fixed-width codes built as byte matrices.

Formatting tens of millions of listen rows one f-string at a time would dominate the
generator's run time. Instead each field becomes a ``(rows, width)`` uint8 matrix of ASCII
bytes (numbers as zero-padded digits plus a mask that drops the leading zeros), the fields are
laid side by side with separators, and one boolean-mask gather flattens the lot into the bytes
of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from recsys.world.arrays import BoolArray, ByteMatrix, IntArray, as_int

ASCII_ZERO = 48
SECONDS_PER_DAY = 86_400


# "00".."99" as a (100, 2) byte table: digits are produced two at a time by table lookup.
_DIGIT_PAIRS: ByteMatrix = np.frombuffer(
    "".join(f"{i:02d}" for i in range(100)).encode("ascii"), dtype=np.uint8
).reshape(100, 2)


def zero_padded_digits(values: IntArray, width: int) -> ByteMatrix:
    """ASCII digits of non-negative integers, zero-padded to `width` columns."""
    if len(values) and (int(values.min()) < 0 or int(values.max()) >= 10**width):
        raise ValueError(f"values out of range for {width} digits")
    out = np.empty((len(values), width), dtype=np.uint8)
    # 32-bit division is much faster than 64-bit; most columns fit.
    remaining = values.astype(np.uint32 if width <= 9 else np.uint64)
    column = width
    while column >= 2:
        remaining, pair = np.divmod(remaining, remaining.dtype.type(100))
        out[:, column - 2 : column] = gather_rows(_DIGIT_PAIRS, as_int(pair))
        column -= 2
    if column == 1:
        out[:, 0] = np.remainder(remaining, remaining.dtype.type(10)) + ASCII_ZERO
    return out


def gather_rows(table: ByteMatrix, index: IntArray) -> ByteMatrix:
    """``table[index]`` for a byte matrix, copying each row as one fixed-size item (several
    times faster than fancy indexing a 2-D uint8 array)."""
    width = table.shape[1]
    items = np.ascontiguousarray(table).view(f"V{width}").ravel()
    return np.take(items, index).view(np.uint8).reshape(len(index), width)


def digit_count(largest: int) -> int:
    """Number of decimal digits of a non-negative integer."""
    return len(str(max(0, largest)))


def text_matrix(texts: Sequence[str], width: int) -> ByteMatrix:
    """Fixed-width ASCII texts (each exactly `width` characters) as a byte matrix."""
    joined = "".join(texts).encode("ascii")
    if len(joined) != width * len(texts):
        raise ValueError(f"every text must be {width} ASCII characters")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(texts), width)


def matrix_to_strings(matrix: ByteMatrix) -> list[str]:
    """Rows of an ASCII byte matrix as Python strings."""
    rows, width = matrix.shape
    if width == 0:
        return [""] * rows
    texts: list[str] = np.ascontiguousarray(matrix).view(f"S{width}").ravel().astype(str).tolist()
    return texts


def prefixed_ids(prefix: str, numbers: IntArray, width: int) -> ByteMatrix:
    """Ids such as ``tr0001234``: a prefix and a zero-padded number."""
    digits = zero_padded_digits(numbers, width)
    head = np.broadcast_to(
        np.frombuffer(prefix.encode("ascii"), dtype=np.uint8), (len(numbers), len(prefix))
    )
    return np.concatenate((head, digits), axis=1)


@dataclass(frozen=True, slots=True)
class UtcClock:
    """Formats epoch seconds within a known range of days as ``2026-11-24T10:00:00Z``, by
    looking up the date (one row per day) and the time of day (one row per second)."""

    first_day: int  # days since 1970-01-01
    day_text: ByteMatrix  # "YYYY-MM-DD" per day
    time_text: ByteMatrix  # "THH:MM:SSZ" per second of the day

    @classmethod
    def covering(cls, first: date, last: date) -> UtcClock:
        """A clock able to format any second of the days `first` to `last` inclusive."""
        days = (last - first).days + 1
        texts = [(first + timedelta(days=offset)).isoformat() for offset in range(days)]
        second = np.arange(SECONDS_PER_DAY, dtype=np.int64)
        clock = zero_padded_digits(
            as_int((second // 3600) * 10_000 + (second // 60 % 60) * 100 + second % 60), 6
        )

        def column(char: str) -> ByteMatrix:
            return np.full((SECONDS_PER_DAY, 1), ord(char), dtype=np.uint8)

        time_text = np.concatenate(
            (
                column("T"),
                clock[:, 0:2],
                column(":"),
                clock[:, 2:4],
                column(":"),
                clock[:, 4:6],
                column("Z"),
            ),
            axis=1,
        )
        return cls(
            first_day=(first - date(1970, 1, 1)).days,
            day_text=text_matrix(texts, 10),
            time_text=time_text,
        )

    @property
    def last_day(self) -> int:
        """The last day (days since 1970-01-01) the clock can format."""
        return self.first_day + len(self.day_text) - 1

    def format(self, epoch_seconds: IntArray) -> ByteMatrix:
        """Timestamps as a ``(rows, 20)`` byte matrix."""
        day = epoch_seconds // SECONDS_PER_DAY - self.first_day
        if len(day) and (int(day.min()) < 0 or int(day.max()) >= len(self.day_text)):
            raise ValueError("timestamp outside the clock's days")
        return np.concatenate(
            (
                gather_rows(self.day_text, as_int(day)),
                gather_rows(self.time_text, as_int(epoch_seconds % SECONDS_PER_DAY)),
            ),
            axis=1,
        )


@dataclass(frozen=True, slots=True)
class NumberField:
    """A non-negative integer column written without leading zeros."""

    values: IntArray


CsvField = ByteMatrix | NumberField


def encode_csv_rows(fields: Sequence[CsvField]) -> bytes:
    """The bytes of CSV rows (comma-separated, newline-terminated) from column fields.

    Byte-matrix fields are copied as they are (they must need no quoting); number fields are
    trimmed of leading zeros by a mask.
    """
    if not fields:
        raise ValueError("no fields")
    first = fields[0]
    rows = len(first.values) if isinstance(first, NumberField) else first.shape[0]
    pieces: list[ByteMatrix] = []
    masks: list[BoolArray] = []
    variable = False
    for index, field in enumerate(fields):
        if isinstance(field, NumberField):
            width = digit_count(int(field.values.max())) if rows else 1
            digits = zero_padded_digits(field.values, width)
            significant = np.ones(rows, dtype=np.int64)
            for power in range(1, width):
                significant += field.values >= 10**power
            keep = np.arange(width) >= (width - significant)[:, None]
            pieces.append(digits)
            masks.append(keep)
            variable = True
        else:
            if field.shape[0] != rows:
                raise ValueError("fields differ in length")
            pieces.append(field)
            masks.append(np.ones(field.shape, dtype=bool))
        separator = ord("\n") if index == len(fields) - 1 else ord(",")
        pieces.append(np.full((rows, 1), separator, dtype=np.uint8))
        masks.append(np.ones((rows, 1), dtype=bool))
    matrix = np.concatenate(pieces, axis=1)
    if not variable:
        return matrix.tobytes()
    return matrix[np.concatenate(masks, axis=1)].tobytes()
