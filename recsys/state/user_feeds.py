"""The per-user feeds of a data directory: opt-outs, follows and "don't play this" exclusions.

All optional. Rows that do not parse are reported with file and line, like every other feed.
The follows (two million rows at SPEC's scale) are read by Arrow when the file is plain, as
the listens are; any file that is not goes row by row, which names each bad row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, cast

import pyarrow as pa

from pool.feeds import UTF8_BOM, good_rows, read_csv
from pool.fields import check_choice, check_id
from pool.model import FeedIssue
from recsys.listening.reader import ascii_valid_ids, string_columns, whole_line_blocks

OPTOUTS_FILE = "optouts.csv"
FOLLOWS_FILE = "follows.csv"
EXCLUSIONS_FILE = "exclusions.csv"
ExclusionKind = Literal["artist", "track"]
EXCLUSION_KINDS: frozenset[str] = frozenset({"artist", "track"})
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UserExclusion:
    user_id: str
    kind: ExclusionKind
    target_id: str


@dataclass(frozen=True, slots=True)
class UserFeeds:
    optouts: frozenset[str]
    follows: dict[str, frozenset[str]]
    exclusions: tuple[UserExclusion, ...]
    issues: tuple[FeedIssue, ...]


def _optional_csv(
    data_dir: Path,
    name: str,
    columns: tuple[str, ...],
    parse: Callable[[dict[str, str]], T],
    issues: list[FeedIssue],
) -> list[T]:
    path = data_dir / name
    return list(good_rows(read_csv(path, name, columns, parse), issues)) if path.is_file() else []


def plain_id_columns(path: Path, columns: tuple[str, ...]) -> list[list[str]] | None:
    """The values of ``columns`` (ids all) of a CSV file, read by Arrow block by block, when
    the file is plain: ASCII with no byte-order mark, quote, carriage return or blank line, a
    header naming every column once, every row as many fields as the header and every value a
    valid id (``check_id``). None when it is not, so that ``read_csv`` reads it row by row
    and names each bad row: for a plain file both give the same rows."""
    with path.open("rb") as handle:
        head = handle.readline()
        if not _plain(head) or head.startswith(UTF8_BOM) or not head.strip():
            return None
        names = [name.strip() for name in head.decode("ascii").rstrip("\n").split(",")]
        if any(names.count(name) != 1 for name in columns):
            return None  # a column named twice is the last one's row by row (``dict(zip())``)
        keys = [f"f{i}" for i in range(len(names))]
        wanted = [keys[names.index(name)] for name in columns]
        values: list[list[str]] = [[] for _ in columns]
        for block, _ in whole_line_blocks(handle, 2):
            if not _plain(block):
                return None
            try:
                table = string_columns(block, keys, wanted)
            except pa.ArrowInvalid:  # a row with another count of fields, a blank line
                return None
            for found, key in zip(values, wanted, strict=True):
                column = table.column(key).combine_chunks()
                if column.null_count or not ascii_valid_ids(column).all():
                    return None
                found.extend(column.to_pylist())
    return values


def _plain(block: bytes) -> bool:
    return block.isascii() and b'"' not in block and b"\r" not in block


def _follows(data_dir: Path, issues: list[FeedIssue]) -> list[tuple[str, str]]:
    """(user, artist) of each good row of the follows file."""
    path = data_dir / FOLLOWS_FILE
    plain = plain_id_columns(path, ("user_id", "artist_id")) if path.is_file() else None
    if plain is not None:
        return list(zip(*plain, strict=True))
    return _optional_csv(
        data_dir,
        FOLLOWS_FILE,
        ("user_id", "artist_id"),
        lambda r: (check_id(r["user_id"], "user_id"), check_id(r["artist_id"], "artist_id")),
        issues,
    )


def _exclusion(row: dict[str, str]) -> UserExclusion:
    return UserExclusion(
        user_id=check_id(row["user_id"], "user_id"),
        kind=cast(ExclusionKind, check_choice(row["kind"], "kind", EXCLUSION_KINDS)),
        target_id=check_id(row["id"], "id"),
    )


def read_user_feeds(data_dir: Path) -> UserFeeds:
    issues: list[FeedIssue] = []
    optouts = _optional_csv(
        data_dir, OPTOUTS_FILE, ("user_id",), lambda r: check_id(r["user_id"], "user_id"), issues
    )
    pairs = _follows(data_dir, issues)
    follows: dict[str, set[str]] = {}
    for user_id, artist_id in pairs:
        follows.setdefault(user_id, set()).add(artist_id)
    exclusions = _optional_csv(
        data_dir, EXCLUSIONS_FILE, ("user_id", "kind", "id"), _exclusion, issues
    )
    return UserFeeds(
        optouts=frozenset(optouts),
        follows={u: frozenset(a) for u, a in follows.items()},
        exclusions=tuple(exclusions),
        issues=tuple(issues),
    )
