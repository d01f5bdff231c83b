"""Readers for the feed files of a data directory (docs/contract.md section 2).

Each reader yields ``(line_number, value)`` for good rows and ``FeedIssue`` for bad ones, so one
bad row never stops an import and never slips through. Files are read line by line: a partner's
catalog of a million tracks is never held as text in memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from pool.fields import (
    DATE_PATTERN,
    ISRC_PATTERN,
    FieldError,
    check_choice,
    check_date,
    check_id,
    check_id_list,
    check_isrc,
    check_positive_int,
    check_score,
    check_tags,
    check_text,
    check_timestamp,
    require,
)
from pool.model import (
    AI_DECLARATIONS,
    FLAG_SOURCES,
    AiDeclaration,
    AiFlag,
    Artist,
    FeedIssue,
    FlagSource,
    Label,
    Takedown,
    Track,
    TrustGrant,
    TrustKind,
)

T = TypeVar("T")
Parsed = tuple[int, T] | FeedIssue


def good_rows(rows: Iterable[Parsed[T]], issues: list[FeedIssue]) -> Iterator[T]:
    """The values of good rows; every issue is appended to ``issues`` on the way."""
    for item in rows:
        if isinstance(item, FeedIssue):
            issues.append(item)
        else:
            yield item[1]


UTF8_BOM = b"\xef\xbb\xbf"


def without_bom(raw: bytes, number: int) -> bytes:
    """A UTF-8 byte order mark is allowed at the very start of a file (spreadsheets write
    one); anywhere else it is part of the text and fails like any other stray character."""
    return raw[len(UTF8_BOM) :] if number == 1 and raw.startswith(UTF8_BOM) else raw


def split_csv_line(text: str) -> list[str]:
    """The fields of one CSV line; ``csv.Error`` when the line is not a complete record.

    Every row of a feed is one line, so that an issue can name it. A quoted value with a line
    break (RFC 4180 allows it) is refused, not split: its second half could otherwise read as
    a row of its own (``ar9,"x<newline>ar666,y",...`` would verify ``ar666``). Balanced quotes
    catch both halves; ``strict`` catches the other malformed quoting.
    """
    if text.count('"') % 2:
        raise csv.Error("unbalanced quotes; a value cannot span lines")
    return next(csv.reader([text], strict=True))


def _decoded_lines(path: Path, label: str) -> Iterator[tuple[int, str] | FeedIssue]:
    """Lines of a UTF-8 file; a line with invalid bytes becomes an issue, not a crash."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, without_bom(raw, number).decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                yield FeedIssue(label, number, f"not valid UTF-8 (byte {error.start})")


def parse_jsonl_lines(
    lines: Iterable[bytes], first_line: int, label: str, parse: Callable[[dict[str, Any]], T]
) -> Iterator[Parsed[T]]:
    """Parse JSON lines numbered from ``first_line``; blank lines are skipped, everything else
    must be one object.

    orjson parses the raw bytes (and checks their UTF-8) about five times faster than the
    standard library, which matters for a catalog of a million tracks.
    """
    for number, line in enumerate(lines, start=first_line):
        raw = without_bom(line, number)
        if not raw.strip():
            continue
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                yield FeedIssue(label, number, f"not valid UTF-8 (byte {bad.start})")
            else:
                yield FeedIssue(label, number, f"malformed JSON ({error.msg})")
            continue
        if not isinstance(row, dict):
            yield FeedIssue(label, number, "a line must hold one JSON object")
            continue
        try:
            yield number, parse(row)
        except FieldError as error:
            yield FeedIssue(label, number, str(error))


def read_jsonl(path: Path, label: str, parse: Callable[[dict[str, Any]], T]) -> Iterator[Parsed[T]]:
    """Parse a JSON-lines file line by line (never held whole in memory)."""
    with path.open("rb") as handle:
        yield from parse_jsonl_lines(handle, 1, label, parse)


def read_csv(
    path: Path, label: str, columns: tuple[str, ...], parse: Callable[[dict[str, str]], T]
) -> Iterator[Parsed[T]]:
    """Parse a CSV file whose header must name ``columns`` (in any order; extras ignored)."""
    lines = _decoded_lines(path, label)
    header: list[str] | None = None
    spanning = False  # inside a quoted value that a line with an odd count of quotes opened
    for item in lines:
        if isinstance(item, FeedIssue):
            yield item
            if header is None:
                return
            continue
        number, text = item
        if header is None:
            if not text.strip():
                continue
            try:
                header = [name.strip() for name in split_csv_line(text)]
            except csv.Error as error:
                yield FeedIssue(label, number, f"malformed CSV header ({error}); file skipped")
                return
            missing = [name for name in columns if name not in header]
            if missing:
                yield FeedIssue(label, number, f"header lacks column(s) {', '.join(missing)}")
                return
            continue
        if not text.strip():
            continue
        if text.count('"') % 2:
            # Opens (or closes) a quoted value that spans lines: refused, and so is every line
            # inside it, which would otherwise read as a row of its own.
            spanning = not spanning
            yield FeedIssue(
                label, number, "malformed CSV (unbalanced quotes; a value cannot span lines)"
            )
            continue
        if spanning:
            yield FeedIssue(label, number, "inside a quoted value that spans lines; refused")
            continue
        try:
            values = split_csv_line(text)
        except csv.Error as error:
            yield FeedIssue(label, number, f"malformed CSV ({error})")
            continue
        if len(values) != len(header):
            yield FeedIssue(
                label, number, f"has {len(values)} fields, the header has {len(header)}"
            )
            continue
        try:
            yield number, parse(dict(zip(header, values, strict=True)))
        except FieldError as error:
            yield FeedIssue(label, number, str(error))


def parse_artist(row: dict[str, Any]) -> Artist:
    return Artist(
        artist_id=check_id(require(row, "artist_id"), "artist_id"),
        name=check_text(require(row, "name"), "name"),
        partner=check_id(require(row, "partner"), "partner"),
    )


def parse_label(row: dict[str, Any]) -> Label:
    return Label(
        label_id=check_id(require(row, "label_id"), "label_id"),
        name=check_text(require(row, "name"), "name"),
        partner=check_id(require(row, "partner"), "partner"),
    )


# Many ids (or texts) joined by \x1e, a control character neither may contain, are checked by
# one regex call: each id has no control characters and no whitespace at either end; each text
# has no control characters and something besides whitespace. A value that holds \x1e itself
# would pass as two values, so the joined text must hold exactly one \x1e per join.
_SEP = "\x1e"
_ID = r"[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?"
_TEXT = r"[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*"
_PLAIN_IDS = re.compile(f"{_ID}(?:{_SEP}{_ID})*")
_PLAIN_TEXTS = re.compile(f"{_TEXT}(?:{_SEP}{_TEXT})*")


def _fast_track(row: dict[str, Any]) -> Track | None:
    """The common case in a few C-level checks; None whenever anything is unusual, so that
    ``parse_track`` falls back to the field-by-field checks that name the problem. It accepts
    a strict subset of what those checks accept, and builds the same track."""
    try:
        track_id, title = row["track_id"], row["title"]
        artist_ids, label_id = row["artist_ids"], row["label_id"]
        release_id, release_title = row["release_id"], row["release_title"]
        release_date, duration = row["release_date"], row["duration_ms"]
        isrc, declaration, partner = row["isrc"], row["ai_declaration"], row["partner"]
    except KeyError:
        return None
    tags = row.get("tags", [])
    if (
        type(artist_ids) is not list
        or not artist_ids
        or type(tags) is not list
        or type(duration) is not int
        or not 0 < duration <= 24 * 60 * 60 * 1000
        or type(declaration) is not str
        or declaration not in AI_DECLARATIONS
        or type(isrc) is not str
        or type(release_date) is not str
    ):
        return None
    ids = [track_id, label_id, release_id, partner, *artist_ids]
    texts = [title, release_title, *tags]
    try:
        if max(map(len, ids)) > 128 or max(map(len, texts)) > 1024:
            return None
        joined_ids, joined_texts = _SEP.join(ids), _SEP.join(texts)
        if joined_ids.count(_SEP) != len(ids) - 1 or joined_texts.count(_SEP) != len(texts) - 1:
            return None
        if not _PLAIN_IDS.fullmatch(joined_ids) or not "".join(ids).isprintable():
            return None
        if not _PLAIN_TEXTS.fullmatch(joined_texts):
            return None
    except TypeError:  # a value that is not a string
        return None
    if len(set(artist_ids)) != len(artist_ids):
        return None
    normalised_isrc = isrc.replace("-", "").upper()
    if (
        not isrc.isascii()
        or not ISRC_PATTERN.fullmatch(normalised_isrc)
        or not DATE_PATTERN.fullmatch(release_date)
    ):
        return None
    try:
        day = date.fromisoformat(release_date)
    except ValueError:
        return None
    return Track(
        track_id=track_id,
        title=title,
        artist_ids=tuple(artist_ids),
        label_id=label_id,
        release_id=release_id,
        release_title=release_title,
        release_date=day,
        duration_ms=duration,
        isrc=normalised_isrc,
        tags=tuple(tag.strip().lower() for tag in tags),
        ai_declaration=declaration,
        partner=partner,
    )


def parse_track(row: dict[str, Any]) -> Track:
    """A catalog track. Any field a feed adds about trust ("verified", "trusted") is ignored."""
    fast = _fast_track(row)
    return fast if fast is not None else parse_track_checked(row)


def parse_track_checked(row: dict[str, Any]) -> Track:
    """Field by field, naming the first field that is wrong."""
    return Track(
        track_id=check_id(require(row, "track_id"), "track_id"),
        title=check_text(require(row, "title"), "title"),
        artist_ids=check_id_list(require(row, "artist_ids"), "artist_ids"),
        label_id=check_id(require(row, "label_id"), "label_id"),
        release_id=check_id(require(row, "release_id"), "release_id"),
        release_title=check_text(require(row, "release_title"), "release_title"),
        release_date=check_date(require(row, "release_date"), "release_date"),
        duration_ms=check_positive_int(
            require(row, "duration_ms"), "duration_ms", maximum=24 * 60 * 60 * 1000
        ),
        isrc=check_isrc(require(row, "isrc"), "isrc"),
        tags=check_tags(row.get("tags", []), "tags"),
        ai_declaration=cast(
            AiDeclaration,
            check_choice(require(row, "ai_declaration"), "ai_declaration", AI_DECLARATIONS),
        ),
        partner=check_id(require(row, "partner"), "partner"),
    )


def parse_flag(row: dict[str, Any]) -> AiFlag:
    return AiFlag(
        track_id=check_id(require(row, "track_id"), "track_id"),
        source=cast(FlagSource, check_choice(require(row, "source"), "source", FLAG_SOURCES)),
        score=check_score(require(row, "score"), "score"),
        created_at=check_timestamp(require(row, "created_at"), "created_at"),
    )


def parse_takedown(row: dict[str, str]) -> Takedown:
    return Takedown(
        track_id=check_id(row["track_id"], "track_id"),
        reason=check_text(row["reason"], "reason"),
        created_at=check_timestamp(row["created_at"], "created_at"),
    )


TRUST_FILES: dict[TrustKind, tuple[str, str, str, str]] = {
    # kind: (file, id column, "by" column, "at" column)
    "partner": ("trust/partners.csv", "partner_id", "trusted_by", "trusted_at"),
    "label": ("trust/labels.csv", "label_id", "trusted_by", "trusted_at"),
    "artist": ("trust/artists.csv", "artist_id", "verified_by", "verified_at"),
}


def trust_parser(kind: TrustKind) -> Callable[[dict[str, str]], TrustGrant]:
    _, id_column, by_column, at_column = TRUST_FILES[kind]

    def parse(row: dict[str, str]) -> TrustGrant:
        return TrustGrant(
            kind=kind,
            subject_id=check_id(row[id_column], id_column),
            granted_by=check_text(row[by_column], by_column),
            granted_at=check_timestamp(row[at_column], at_column),
        )

    return parse
