"""The per-user feeds of a data directory: opt-outs, follows and "don't play this" exclusions.

All optional. Rows that do not parse are reported with file and line, like every other feed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, cast

from pool.feeds import good_rows, read_csv
from pool.fields import check_choice, check_id
from pool.model import FeedIssue

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
    pairs = _optional_csv(
        data_dir,
        FOLLOWS_FILE,
        ("user_id", "artist_id"),
        lambda r: (check_id(r["user_id"], "user_id"), check_id(r["artist_id"], "artist_id")),
        issues,
    )
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
