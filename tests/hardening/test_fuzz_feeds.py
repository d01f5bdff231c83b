"""Every feed reader of a data directory (SPEC section 2) fuzzed with Hypothesis.

Two kinds of input: bytes and lines of any shape (invalid UTF-8, BOMs, NULs, stray quotes,
huge fields), and valid rows mutated field by field (wrong types, missing and extra fields,
huge numbers, NaN, bools for numbers, control characters, surrounding blanks, very long
strings, out-of-range timestamps). For each row the reader must either admit a value that
meets the field rules or report a ``FeedIssue`` with file and line; nothing else may leave it.

The field rules are restated here, from SPEC section 2, by an oracle that never calls
``pool.fields``: a bug in a validator cannot hide behind the same bug in the check. Where the
SPEC leaves a form open (a timestamp without seconds, an ISRC with hyphens in odd places) the
oracle says "either", and the value, if admitted, must still meet every rule.

``tests/pool/test_bad_input.py`` pins one example per kind of bad track row and the track
fast path against the field checks; this file generalises that to every field of every feed,
to arbitrary bytes, to the listens reader's two paths and to whole imports.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import sqlite3
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pool.ai_status import AiRules
from pool.errors import DataDirectoryError
from pool.feeds import (
    TRUST_FILES,
    parse_artist,
    parse_flag,
    parse_label,
    parse_takedown,
    parse_track,
    read_csv,
    read_jsonl,
    trust_parser,
)
from pool.importer import current_pool_version, import_data_dir
from pool.model import AiFlag, Artist, FeedIssue, Label, Takedown, Track, TrustGrant
from pool.state import open_state
from recsys.curation.links import CuratorLink, canonical_pair, parse_link_row
from recsys.listening.reader import read_listens
from recsys.state.user_feeds import UserExclusion, read_user_feeds
from tests.factories import DataDir, flag, import_trusted, track_row

Verdict = Literal["valid", "invalid", "either"]
MISSING: Any = object()  # a field left out of the row
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
MUTATIONS = settings(FUZZ, max_examples=30)  # per field of each feed

# ---------------------------------------------------------------------------------------------
# The oracle: SPEC section 2's field rules, restated without pool.fields.
# ---------------------------------------------------------------------------------------------


def has_control(text: str) -> bool:
    """SPEC: ids (and texts) carry no control characters: Unicode category Cc."""
    return any(unicodedata.category(char) == "Cc" for char in text)


def worst(*verdicts: Verdict) -> Verdict:
    if "invalid" in verdicts:
        return "invalid"
    return "either" if "either" in verdicts else "valid"


def id_rule(value: Any) -> Verdict:
    """1-128 characters, no control characters, no blank at either end and no invisible
    characters (the project's rule, stricter than the SPEC's: ``" ar1"`` or ``"ar\u200b1"``
    would be a different artist that looks the same)."""
    if type(value) is not str or not 1 <= len(value) <= 128 or has_control(value):
        return "invalid"
    if not value.isprintable():
        return "invalid"
    return "valid" if value == value.strip() else "invalid"


def text_rule(value: Any, *, allow_empty: bool = False) -> Verdict:
    if type(value) is not str or len(value) > 1024 or has_control(value):
        return "invalid"
    return "valid" if allow_empty or value.strip() else "invalid"


def score_rule(value: Any) -> Verdict:
    # bool is an int in Python and `true` a number in some JSON libraries: never a score.
    if type(value) not in (int, float) or not math.isfinite(value):
        return "invalid"
    return "valid" if 0 <= value <= 1 else "invalid"


def count_rule(value: Any, maximum: int) -> Verdict:
    return "valid" if type(value) is int and 1 <= value <= maximum else "invalid"


ASCII_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
STRICT_STAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)


def calendar_date(value: Any) -> date | None:
    match = ASCII_DATE.fullmatch(value) if type(value) is str else None
    if match is None:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def date_rule(value: Any) -> Verdict:
    return "valid" if calendar_date(value) is not None else "invalid"


def strict_instant(value: str) -> datetime | None:
    """``2026-11-24T10:00:00Z`` and its offset and fraction variants, as a UTC instant; None
    when the text is not of that form or names no representable instant."""
    match = STRICT_STAMP.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    offset = timedelta(0)
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = sign * timedelta(hours=hours, minutes=minutes)
    try:
        local = datetime(year, month, day, hour, minute, second, micros)
        return (local - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def timestamp_rule(value: Any) -> Verdict:
    """Valid: the SPEC's form. Invalid: not text, or not even starting with a year. Other ISO
    8601 forms (no seconds, no offset, a space for the T, week dates) may go either way."""
    if type(value) is not str or has_control(value) or not re.match(r"[0-9]{4}", value):
        return "invalid"
    if strict_instant(value) is not None:
        return "valid"
    if STRICT_STAMP.fullmatch(value):
        return "invalid"  # the SPEC's form with an impossible date, time or offset
    return "either"


ISRC_ASCII = re.compile(r"[A-Za-z]{2}[A-Za-z0-9]{3}[0-9]{7}")
ISRC_HYPHENATED = re.compile(r"[A-Za-z]{2}-[A-Za-z0-9]{3}-[0-9]{2}-[0-9]{5}")


def isrc_rule(value: Any) -> Verdict:
    """An ISRC is 12 ASCII characters (ISO 3901), hyphens for display only. Anything that
    only becomes one by case folding (``ß`` upper-cases to ``SS``) is not one."""
    if type(value) is not str or not ISRC_ASCII.fullmatch(value.replace("-", "")):
        return "invalid"
    return "valid" if "-" not in value or ISRC_HYPHENATED.fullmatch(value) else "either"


def choice_rule(value: Any, choices: frozenset[str]) -> Verdict:
    return "valid" if type(value) is str and value in choices else "invalid"


def id_list_rule(value: Any) -> Verdict:
    if type(value) is not list or not value:
        return "invalid"
    if len(set(map(repr, value))) != len(value):
        return "invalid"
    return worst(*(id_rule(item) for item in value))


def tags_rule(value: Any) -> Verdict:
    if value is MISSING:
        return "valid"
    if type(value) is not list:
        return "invalid"
    return worst(*(text_rule(item) for item in value))


def utc_instant(value: Any) -> bool:
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0)


def admitted_id(value: Any) -> bool:
    return id_rule(value) == "valid"


def admitted_text(value: Any, *, allow_empty: bool = False) -> bool:
    return text_rule(value, allow_empty=allow_empty) == "valid"


# ---------------------------------------------------------------------------------------------
# The feeds: for each, a valid row, the rule for each field, and what a valid row must become.
# ---------------------------------------------------------------------------------------------

AI = frozenset({"none", "assisted", "generated"})
SOURCES = frozenset({"detector", "label", "curator", "listener"})
KINDS = frozenset({"similar", "block"})
KINDS_OF_EXCLUSION = frozenset({"artist", "track"})
Row = dict[str, Any]


@dataclass(frozen=True)
class Feed:
    """One feed file: how to read it, the oracle's verdict on a raw row, the value a valid
    row must become, and the rules every admitted value must meet."""

    label: str
    fields: tuple[str, ...]
    base: Row
    rules: dict[str, Callable[[Row], Verdict]]
    expected: Callable[[Row], Any]
    admitted: Callable[[Any], bool]
    # The row parser the file reader applies; the user feeds are read as a whole instead.
    parse: Callable[[Any], Any] = lambda row: row

    def verdict(self, row: Row) -> Verdict:
        return worst(*(rule(row) for rule in self.rules.values()))

    def blamable_fields(self, row: Row) -> list[str]:
        """The fields a refusal may name: the invalid ones, and the ones the oracle leaves
        open. A reader checks fields in its own order, so when a row has an invalid field and
        an "either" one that the reader refuses (``0001-01-01T00:00+05:00`` is before year 1
        in UTC), the reason may rightly name the latter."""
        return [name for name, rule in self.rules.items() if rule(row) != "valid"]


def _get(row: Row, name: str) -> Any:
    value = row.get(name, MISSING)
    return MISSING if value is None else value


def required(name: str, rule: Callable[[Any], Verdict]) -> Callable[[Row], Verdict]:
    return lambda row: "invalid" if _get(row, name) is MISSING else rule(row[name])


def stamp(value: str) -> datetime:
    instant = strict_instant(value)
    if instant is None:
        raise AssertionError(f"the oracle called {value!r} valid but cannot read it")
    return instant


def expected_track(row: Row) -> Track:
    return Track(
        track_id=row["track_id"],
        title=row["title"],
        artist_ids=tuple(row["artist_ids"]),
        label_id=row["label_id"],
        release_id=row["release_id"],
        release_title=row["release_title"],
        release_date=calendar_date(row["release_date"]) or date.min,
        duration_ms=row["duration_ms"],
        isrc=row["isrc"].replace("-", "").upper(),
        tags=tuple(tag.strip().lower() for tag in row.get("tags", [])),
        ai_declaration=row["ai_declaration"],
        partner=row["partner"],
    )


def admitted_track(track: Track) -> bool:
    return (
        isinstance(track, Track)
        and all(map(admitted_id, (track.track_id, track.label_id, track.release_id)))
        and admitted_id(track.partner)
        and bool(track.artist_ids)
        and all(map(admitted_id, track.artist_ids))
        and len(set(track.artist_ids)) == len(track.artist_ids)
        and admitted_text(track.title)
        and admitted_text(track.release_title)
        and type(track.release_date) is date
        and count_rule(track.duration_ms, 24 * 3_600_000) == "valid"
        and isrc_rule(track.isrc) == "valid"
        and track.isrc == track.isrc.upper()
        and "-" not in track.isrc
        and all(admitted_text(tag) and tag == tag.strip().lower() for tag in track.tags)
        and track.ai_declaration in AI
    )


def expected_link(row: Row) -> CuratorLink:
    a, b = canonical_pair(row["artist_a"], row["artist_b"])
    weight = _get(row, "weight")
    note = _get(row, "note")
    return CuratorLink(
        artist_a=a,
        artist_b=b,
        kind=row["kind"],
        weight=0.0 if weight is MISSING else float(weight),
        curator=row["curator"],
        note="" if note is MISSING else note,
        created_at=stamp(row["created_at"]),
    )


def link_weight_rule(row: Row) -> Verdict:
    if row.get("kind") == "block" and _get(row, "weight") is MISSING:
        return "valid"  # a block has no strength
    return score_rule(_get(row, "weight"))


def link_pair_rule(row: Row) -> Verdict:
    return "invalid" if row.get("artist_a") == row.get("artist_b") else "valid"


def admitted_link(link: CuratorLink) -> bool:
    return (
        isinstance(link, CuratorLink)
        and admitted_id(link.artist_a)
        and admitted_id(link.artist_b)
        and link.artist_a < link.artist_b
        and link.kind in KINDS
        and score_rule(link.weight) == "valid"
        and admitted_text(link.curator)
        and admitted_text(link.note, allow_empty=True)
        and utc_instant(link.created_at)
    )


GOOD_STAMP = "2026-11-24T10:00:00Z"

JSON_FEEDS: dict[str, Feed] = {
    "catalog/artists.jsonl": Feed(
        label="catalog/artists.jsonl",
        fields=("artist_id", "name", "partner"),
        base={"artist_id": "ar1", "name": "Artist One", "partner": "pt1"},
        rules={
            "artist_id": required("artist_id", id_rule),
            "name": required("name", text_rule),
            "partner": required("partner", id_rule),
        },
        expected=lambda row: Artist(row["artist_id"], row["name"], row["partner"]),
        admitted=lambda a: (
            isinstance(a, Artist)
            and admitted_id(a.artist_id)
            and admitted_text(a.name)
            and admitted_id(a.partner)
        ),
        parse=parse_artist,
    ),
    "catalog/labels.jsonl": Feed(
        label="catalog/labels.jsonl",
        fields=("label_id", "name", "partner"),
        base={"label_id": "lb1", "name": "Good Label", "partner": "pt1"},
        rules={
            "label_id": required("label_id", id_rule),
            "name": required("name", text_rule),
            "partner": required("partner", id_rule),
        },
        expected=lambda row: Label(row["label_id"], row["name"], row["partner"]),
        admitted=lambda x: (
            isinstance(x, Label)
            and admitted_id(x.label_id)
            and admitted_text(x.name)
            and admitted_id(x.partner)
        ),
        parse=parse_label,
    ),
    "catalog/tracks.jsonl": Feed(
        label="catalog/tracks.jsonl",
        fields=tuple(track_row("t1", ["ar1"])),
        base=track_row("t1", ["ar1", "ar2"], tags=["Shoegaze", "dream pop"]),
        rules={
            "track_id": required("track_id", id_rule),
            "title": required("title", text_rule),
            "artist_ids": required("artist_ids", id_list_rule),
            "label_id": required("label_id", id_rule),
            "release_id": required("release_id", id_rule),
            "release_title": required("release_title", text_rule),
            "release_date": required("release_date", date_rule),
            "duration_ms": required("duration_ms", lambda v: count_rule(v, 24 * 3_600_000)),
            "isrc": required("isrc", isrc_rule),
            "tags": lambda row: tags_rule(row.get("tags", MISSING)),
            "ai_declaration": required("ai_declaration", lambda v: choice_rule(v, AI)),
            "partner": required("partner", id_rule),
        },
        expected=expected_track,
        admitted=admitted_track,
        parse=parse_track,
    ),
    "flags/ai_flags.jsonl": Feed(
        label="flags/ai_flags.jsonl",
        fields=("track_id", "source", "score", "created_at"),
        base=flag("t1", "detector", 0.75, GOOD_STAMP),
        rules={
            "track_id": required("track_id", id_rule),
            "source": required("source", lambda v: choice_rule(v, SOURCES)),
            "score": required("score", score_rule),
            "created_at": required("created_at", timestamp_rule),
        },
        expected=lambda row: AiFlag(
            row["track_id"], row["source"], float(row["score"]), stamp(row["created_at"])
        ),
        admitted=lambda f: (
            isinstance(f, AiFlag)
            and admitted_id(f.track_id)
            and f.source in SOURCES
            and type(f.score) is float
            and score_rule(f.score) == "valid"
            and utc_instant(f.created_at)
        ),
        parse=parse_flag,
    ),
    "curation/links.jsonl": Feed(
        label="curation/links.jsonl",
        fields=("artist_a", "artist_b", "kind", "weight", "curator", "note", "created_at"),
        base={
            "artist_a": "ar2",
            "artist_b": "ar1",
            "kind": "similar",
            "weight": 0.5,
            "curator": "carol",
            "note": "same scene",
            "created_at": GOOD_STAMP,
        },
        rules={
            "artist_a": required("artist_a", id_rule),
            "artist_b": lambda row: worst(required("artist_b", id_rule)(row), link_pair_rule(row)),
            "kind": required("kind", lambda v: choice_rule(v, KINDS)),
            "weight": link_weight_rule,
            "curator": required("curator", text_rule),
            "note": lambda row: (
                "valid"
                if _get(row, "note") is MISSING
                else text_rule(row["note"], allow_empty=True)
            ),
            "created_at": required("created_at", timestamp_rule),
        },
        expected=expected_link,
        admitted=admitted_link,
        parse=parse_link_row,
    ),
}


def _trust_feed(kind: Literal["partner", "label", "artist"]) -> Feed:
    relative, id_column, by_column, at_column = TRUST_FILES[kind]
    return Feed(
        label=relative,
        fields=(id_column, by_column, at_column),
        base={id_column: f"{kind[:2]}1", by_column: "alice", at_column: GOOD_STAMP},
        rules={
            id_column: required(id_column, id_rule),
            by_column: required(by_column, text_rule),
            at_column: required(at_column, timestamp_rule),
        },
        expected=lambda row: TrustGrant(
            kind, row[id_column], row[by_column], stamp(row[at_column])
        ),
        admitted=lambda g: (
            isinstance(g, TrustGrant)
            and g.kind == kind
            and admitted_id(g.subject_id)
            and admitted_text(g.granted_by)
            and utc_instant(g.granted_at)
        ),
        parse=trust_parser(kind),
    )


def _user_feed(label: str, fields: tuple[str, ...], base: Row, value: Callable[[Row], Any]) -> Feed:
    rules = {
        name: required(
            name, (lambda v: choice_rule(v, KINDS_OF_EXCLUSION)) if name == "kind" else id_rule
        )
        for name in fields
    }
    return Feed(
        label=label,
        fields=fields,
        base=base,
        rules=rules,
        expected=value,
        admitted=lambda v: True,  # checked on the UserFeeds value as a whole
    )


CSV_FEEDS: dict[str, Feed] = {
    **{TRUST_FILES[kind][0]: _trust_feed(kind) for kind in ("partner", "label", "artist")},
    "takedowns.csv": Feed(
        label="takedowns.csv",
        fields=("track_id", "reason", "created_at"),
        base={"track_id": "t1", "reason": "rights claim", "created_at": GOOD_STAMP},
        rules={
            "track_id": required("track_id", id_rule),
            "reason": required("reason", text_rule),
            "created_at": required("created_at", timestamp_rule),
        },
        expected=lambda row: Takedown(row["track_id"], row["reason"], stamp(row["created_at"])),
        admitted=lambda t: (
            isinstance(t, Takedown)
            and admitted_id(t.track_id)
            and admitted_text(t.reason)
            and utc_instant(t.created_at)
        ),
        parse=parse_takedown,
    ),
}

USER_FEEDS: dict[str, Feed] = {
    "optouts.csv": _user_feed(
        "optouts.csv", ("user_id",), {"user_id": "u1"}, lambda r: r["user_id"]
    ),
    "follows.csv": _user_feed(
        "follows.csv",
        ("user_id", "artist_id"),
        {"user_id": "u1", "artist_id": "ar1"},
        lambda r: (r["user_id"], r["artist_id"]),
    ),
    "exclusions.csv": _user_feed(
        "exclusions.csv",
        ("user_id", "kind", "id"),
        {"user_id": "u1", "kind": "track", "id": "t1"},
        lambda r: UserExclusion(r["user_id"], r["kind"], r["id"]),
    ),
}

# ---------------------------------------------------------------------------------------------
# Strategies: nasty values, plausible values per field, and whole mutated rows.
# ---------------------------------------------------------------------------------------------

SPECIAL_TEXT = [
    "",
    " ",
    "ar1 ",
    " ar1",
    "\tar1",
    "ar1\u2003",  # an em space: blank, not a control character
    "a\x00b",
    "a\x1fb",
    "a\x7fb",
    "a\x85b",  # NEL, a C1 control character
    "a\u2028b",
    "\ufeffar1",  # a BOM inside a value
    "a\u200bb",
    "a,b",
    'a"b',
    '"quoted"',
    "a\rb",
    "a\nb",
    "x" * 128,
    "x" * 129,
    "ü" * 128,
    "t" * 1024,
    "t" * 1025,
    "0",
    "1",
    "true",
    "null",
    "NaN",
    "-1",
    "1e309",
]
huge_text = st.integers(min_value=1025, max_value=300_000).map(lambda n: "h" * n)
nasty_text = st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=40), huge_text)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 2**64, 24 * 3_600_000, 24 * 3_600_000 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, -0.0, 1.0000001, 5e-324, 0.5]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, nasty_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)

OFFSETS = ["Z", "+00:00", "-00:00", "+05:00", "-01:00", "+14:00", "-12:30", "+23:59", ""]


@st.composite
def timestamp_texts(draw: st.DrawFn) -> str:
    """ISO 8601 texts across the whole representable range, in several precisions."""
    moment = draw(
        st.one_of(
            st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
            # The edges of the range, where an offset moves the instant out of it.
            st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)]),
        )
    )
    offset = draw(st.sampled_from(OFFSETS))
    form = draw(st.sampled_from(["seconds", "micros", "minutes", "hours", "space", "date"]))
    day = moment.date().isoformat()
    clock = {
        "seconds": moment.strftime("T%H:%M:%S"),
        "micros": moment.strftime("T%H:%M:%S.%f"),
        "minutes": moment.strftime("T%H:%M"),
        "hours": moment.strftime("T%H"),
        "space": moment.strftime(" %H:%M:%S"),
        "date": "",
    }[form]
    return f"{day}{clock}{offset if clock else ''}"


# Letters that are not ASCII but upper-case to ASCII: a code made of them only looks valid.
CASE_FOLDING_LOOKALIKES = "ıſßﬀﬁﬂﬅ"


@st.composite
def isrc_lookalikes(draw: st.DrawFn) -> str:
    """A valid code with letters replaced by a character that upper-cases to them."""
    code = draw(st.from_regex(r"[a-z]{5}[0-9]{7}", fullmatch=True))
    letter = draw(st.sampled_from(CASE_FOLDING_LOOKALIKES))
    at = draw(st.integers(0, 5 - len(letter.upper())))
    # ``ß`` upper-cases to two letters, so it replaces two: the result folds to 12 characters.
    return code[:at] + letter + code[at + len(letter.upper()) :]


# Per kind of field, the branches a value is drawn from (each about as likely as the others):
# well-formed values of every shape the SPEC allows, near misses, and the edges.
PLAUSIBLE: dict[str, list[st.SearchStrategy[Any]]] = {
    "timestamp": [timestamp_texts(), timestamp_texts(), nasty_text],
    "date": [
        st.dates(min_value=date(1, 1, 1)).map(date.isoformat),
        st.sampled_from(["2026-02-29", "2024-02-29", "0000-01-01", "2026-13-01", "2026-1-01"]),
        nasty_text,
    ],
    "isrc": [
        st.from_regex(r"[A-Za-z]{2}-?[A-Za-z0-9]{3}-?[0-9]{2}-?[0-9]{5}", fullmatch=True),
        isrc_lookalikes(),
        st.sampled_from(["GBAYE26０0001", "--GBAYE2600001--", "GB-AYE-26-0000", "gbaye2600001"]),
        nasty_text,
    ],
    "id": [st.from_regex(r"[a-z0-9_.:-]{1,16}", fullmatch=True), nasty_text],
    "text": [nasty_text],
    # `true` is a number to some JSON libraries and to Python; "0.5" is one to a spreadsheet.
    "number": [numbers, st.booleans(), numbers.map(str)],
}
FIELD_KIND = {
    "created_at": "timestamp",
    "trusted_at": "timestamp",
    "verified_at": "timestamp",
    "release_date": "date",
    "isrc": "isrc",
    "duration_ms": "number",
    "score": "number",
    "weight": "number",
    "title": "text",
    "release_title": "text",
    "name": "text",
    "note": "text",
    "reason": "text",
    "curator": "text",
    "trusted_by": "text",
    "verified_by": "text",
}
CHOICES = {
    "ai_declaration": [*sorted(AI), "None", "all", ""],
    "source": [*sorted(SOURCES), "admin"],
    "kind": [*sorted(KINDS | KINDS_OF_EXCLUSION), "album"],
}


def field_values(name: str, *, as_json: bool) -> st.SearchStrategy[Any]:
    branches: list[st.SearchStrategy[Any]]
    if name in CHOICES:
        branches = [st.sampled_from(CHOICES[name])]
    elif name == "artist_ids":
        branches = [st.lists(st.one_of(*PLAUSIBLE["id"]), max_size=3)]
    elif name == "tags":
        branches = [st.lists(nasty_text, max_size=3)]
    else:
        branches = PLAUSIBLE[FIELD_KIND.get(name, "id")]
    if not as_json:  # a CSV cell is text: other values arrive as their JSON spelling
        return st.one_of(*branches).map(lambda v: v if isinstance(v, str) else json.dumps(v))
    return st.one_of(*branches, json_values)


@st.composite
def mutated_rows(draw: st.DrawFn, feed: Feed, name: str, *, as_json: bool) -> Row:
    """The feed's valid row with field ``name`` replaced (or, in JSON, removed), sometimes a
    second field too, sometimes an unknown field added."""
    row = dict(feed.base)
    names = {name}
    if draw(st.integers(0, 4)) == 0:
        names.add(draw(st.sampled_from(feed.fields)))
    for each in sorted(names):
        if as_json and draw(st.integers(0, 9)) == 0:
            row.pop(each, None)
        else:
            row[each] = draw(field_values(each, as_json=as_json))
    if as_json and draw(st.booleans()):
        # Unknown extra fields are ignored, including ones that claim trust.
        row[draw(st.sampled_from(["verified", "trusted", "extra", "x" * 200]))] = draw(json_values)
    return row


def feed_fields(feeds: dict[str, Feed]) -> list[Any]:
    """One test case per field of each feed, named ``file:field``."""
    return [
        pytest.param(label, name, id=f"{label}:{name}")
        for label, feed in sorted(feeds.items())
        for name in feed.fields
    ]


def has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(map(has_non_finite, value))
    if isinstance(value, dict):
        return any(map(has_non_finite, value.values()))
    return False


# ---------------------------------------------------------------------------------------------
# Reading one feed file and checking the outcome line by line.
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    values: dict[int, Any]
    issues: dict[int, FeedIssue]


def run_reader(items: Iterator[tuple[int, Any] | FeedIssue], label: str, lines: int) -> Outcome:
    """Every item names its line, within the file, once; every issue names file and line."""
    outcome = Outcome({}, {})
    for item in items:
        if isinstance(item, FeedIssue):
            assert item.file == label, item
            assert str(item).startswith(f"{label}:{item.line}: "), item
            assert item.reason.strip(), item
            number = item.line
            assert number not in outcome.issues, f"line {number} reported twice"
            outcome.issues[number] = item
        else:
            number, value = item
            assert number not in outcome.values, f"line {number} admitted twice"
            outcome.values[number] = value
        assert 1 <= number <= max(lines, 1), f"line {number} of a {lines}-line file"
        assert not (number in outcome.values and number in outcome.issues), number
    return outcome


def check_row_outcome(
    feed: Feed, row: Row, line: int, outcome: Outcome, *, malformed: bool
) -> None:
    """The oracle's verdict on ``row`` (at ``line``) against what the reader did with it."""
    verdict = "invalid" if malformed else feed.verdict(row)
    if verdict == "invalid":
        assert line in outcome.issues, (
            f"an invalid row was admitted: {row!r} -> {outcome.values.get(line)!r}"
        )
        blamable = feed.blamable_fields(row)
        reason = outcome.issues[line].reason
        if blamable and not malformed and "field '" in reason:
            assert any(f"field '{name}'" in reason for name in blamable), (reason, blamable)
    elif verdict == "valid":
        assert line in outcome.values, (
            f"a valid row was refused: {row!r}: {outcome.issues.get(line)}"
        )
        assert outcome.values[line] == feed.expected(row)
    for value in outcome.values.values():
        assert feed.admitted(value), f"admitted a value that breaks a field rule: {value!r}"


def write_jsonl(path: Path, rows: list[Row], *, ascii_only: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=ascii_only) + "\n")


def csv_line(values: list[str]) -> str:
    """One CSV record ending in ``\n``, with every value that holds a CR or LF quoted.

    Python's writer quotes only the characters of its line terminator: with ``"\n"`` a value
    ``0\r`` at the end of a record is written ``0\r\n``, a CRLF line whose value is ``0``."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue().removesuffix("\r\n") + "\n"


@pytest.mark.parametrize(("label", "name"), feed_fields(JSON_FEEDS))
def test_a_mutated_json_row_is_admitted_only_when_every_field_meets_its_rule(
    label: str, name: str
) -> None:
    feed = JSON_FEEDS[label]

    @MUTATIONS
    @given(row=mutated_rows(feed, name, as_json=True), ascii_only=st.booleans())
    def check(row: Row, ascii_only: bool) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / label
            write_jsonl(
                path,
                [feed.base, row, feed.base | {feed.fields[0]: "second"}],
                ascii_only=ascii_only,
            )
            outcome = run_reader(read_jsonl(path, label, feed.parse), label, 3)
        assert set(outcome.values) >= {1, 3}, "a bad row stopped the rest of the file"
        check_row_outcome(feed, row, 2, outcome, malformed=has_non_finite(row))

    check()


def test_a_refused_row_may_be_blamed_on_a_field_the_oracle_leaves_open(tmp_path: Path) -> None:
    """Found by the test above (``curation/links.jsonl:curator``): an empty curator and a
    timestamp without seconds whose offset puts it before year 1 in UTC. The oracle calls the
    timestamp "either"; the reader checks it first and rightly refuses it."""
    label = "curation/links.jsonl"
    feed = JSON_FEEDS[label]
    row = feed.base | {"curator": "", "created_at": "0001-01-01T00:00+05:00"}
    path = tmp_path / label
    write_jsonl(path, [feed.base, row], ascii_only=True)
    outcome = run_reader(read_jsonl(path, label, feed.parse), label, 2)
    assert "field 'created_at'" in outcome.issues[2].reason
    check_row_outcome(feed, row, 2, outcome, malformed=False)


@pytest.mark.parametrize(("label", "name"), feed_fields(CSV_FEEDS))
def test_a_mutated_csv_row_is_admitted_only_when_every_field_meets_its_rule(
    label: str, name: str
) -> None:
    feed = CSV_FEEDS[label]

    @MUTATIONS
    @given(
        row=mutated_rows(feed, name, as_json=False),
        columns=st.permutations(feed.fields),
        extra_column=st.booleans(),
    )
    def check(row: Row, columns: list[str], extra_column: bool) -> None:
        header = [*columns, "comment"] if extra_column else list(columns)
        good = feed.base | {"comment": "ok"}
        second = good | {feed.fields[0]: "second"}
        body = csv_line(header) + csv_line([good.get(c, "") for c in header])
        body += csv_line([second.get(c, "") for c in header])
        body += csv_line([str(row.get(c, "extra")) for c in header])
        lines = body.count("\n")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "feed.csv"
            path.write_text(body, encoding="utf-8", newline="")
            parse = feed.parse
            outcome = run_reader(read_csv(path, label, feed.fields, parse), label, lines)
        assert set(outcome.values) >= {2, 3}, "a bad row stopped the rest of the file"
        # A value with a line break splits its row over two lines: the first must be refused
        # (an unterminated quote), whatever the second happens to look like.
        split = any("\n" in str(v) for v in row.values())
        check_row_outcome(feed, row, 4, outcome, malformed=split)

    check()


@pytest.mark.parametrize(("label", "name"), feed_fields(USER_FEEDS))
def test_a_mutated_user_feed_row_is_admitted_only_when_it_meets_the_rules(
    label: str, name: str
) -> None:
    feed = USER_FEEDS[label]

    @MUTATIONS
    @given(row=mutated_rows(feed, name, as_json=False))
    def check(row: Row) -> None:
        body = csv_line(list(feed.fields)) + csv_line([feed.base[c] for c in feed.fields])
        body += csv_line([str(row[c]) for c in feed.fields])
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / label).write_text(body, encoding="utf-8", newline="")
            feeds = read_user_feeds(Path(folder))
        got: set[Any] = (
            set(feeds.optouts)
            if label == "optouts.csv"
            else set(feeds.exclusions)
            if label == "exclusions.csv"
            else {(u, a) for u, artists in feeds.follows.items() for a in artists}
        )
        issues = {issue.line: issue for issue in feeds.issues}
        for issue in feeds.issues:
            assert str(issue).startswith(f"{label}:{issue.line}: ")
        base = feed.expected(feed.base)
        split = any("\n" in str(v) for v in row.values())
        verdict = "invalid" if split else feed.verdict(row)
        if not csv_line([str(row[c]) for c in feed.fields]).strip():
            verdict = "either"  # a blank line, which every reader skips
        if verdict == "valid":
            assert got == {base, feed.expected(row)} and not issues
        elif verdict == "invalid":
            assert got == {base}, f"an invalid row was admitted: {row!r}"
            assert 3 in issues
        for value in got:
            parts = value if isinstance(value, tuple) else (value,)
            if isinstance(value, UserExclusion):
                parts = (value.user_id, value.target_id)
                assert value.kind in KINDS_OF_EXCLUSION
            assert all(map(admitted_id, parts)), value

    check()


# ---------------------------------------------------------------------------------------------
# Arbitrary bytes: whatever a file holds, the reader reports it line by line and never raises.
# ---------------------------------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"
junk_lines = st.one_of(
    st.binary(max_size=60),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"",
            b"   ",
            BOM,
            b"\xff\xfe",
            b"\xc3\x28",
            b"\xed\xa0\x80",  # an encoded surrogate: not UTF-8
            b"\x00",
            b"{}",
            b"[]",
            b"null",
            b'"a"',
            b"{" * 2000,
            b"[" * 5000 + b"]" * 5000,
            b'{"a": 1e999}',
            b'{"a": NaN}',
            b'{"track_id": "\\ud800"}',
            b'"' + b"q" * 140_000,
            b"\r",
            b"a\rb,c,d",
            b'a,"b\rc",d',
            b",,,,",
        ]
    ),
    st.integers(min_value=1, max_value=200_000).map(lambda n: b"z" * n),
)


@st.composite
def feed_files(draw: st.DrawFn, valid_lines: list[bytes]) -> bytes:
    """Valid lines, junk and a possible BOM, shuffled into one file."""
    lines = draw(st.lists(st.one_of(st.sampled_from(valid_lines), junk_lines), max_size=8))
    body = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    if draw(st.booleans()):
        body += b"\n"
    if draw(st.booleans()):
        body = BOM + body
    return body


def lines_outside_spans(raws: list[bytes]) -> set[int]:
    """Numbers of the lines after the header that are not inside a quoted value spanning
    lines: ``read_csv`` refuses a line with an odd count of quotes and every line up to the
    next such line (a value spanning lines must not smuggle in rows of its own), so a valid
    line there is refused by design. Lines that are not UTF-8 open or close nothing."""
    outside, spanning = set(), False
    for number, raw in enumerate(raws[1:], start=2):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if raw.count(b'"') % 2:
            spanning = not spanning
        elif not spanning:
            outside.add(number)
    return outside


def json_line(row: Row) -> bytes:
    return json.dumps(row).encode()


def csv_bytes(values: list[str]) -> bytes:
    return csv_line(values).rstrip("\n").encode()


@pytest.mark.parametrize("label", sorted(JSON_FEEDS))
def test_any_bytes_in_a_json_feed_are_read_line_by_line(label: str) -> None:
    feed = JSON_FEEDS[label]
    valid = [json_line(feed.base), json_line(feed.base | {feed.fields[0]: "other"})]

    @FUZZ
    @given(body=feed_files(valid))
    def check(body: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "feed.jsonl"
            path.write_bytes(body)
            lines = len(body.split(b"\n"))
            outcome = run_reader(read_jsonl(path, label, feed.parse), label, lines)
        for value in outcome.values.values():
            assert feed.admitted(value), value
        for number, raw in enumerate(body.split(b"\n"), start=1):
            # A BOM is tolerated at the very start of the file (and nowhere else).
            if raw.removeprefix(BOM if number == 1 else b"") in valid:
                assert number in outcome.values, f"line {number} was valid: {raw!r}"

    check()


@pytest.mark.parametrize("label", sorted(CSV_FEEDS) + sorted(USER_FEEDS))
def test_any_bytes_in_a_csv_feed_are_read_line_by_line(label: str) -> None:
    feed = CSV_FEEDS.get(label) or USER_FEEDS[label]
    header = csv_bytes(list(feed.fields))
    valid = [csv_bytes([feed.base[c] for c in feed.fields])]

    @FUZZ
    @given(body=feed_files(valid), with_header=st.booleans(), bom=st.booleans())
    def check(body: bytes, with_header: bool, bom: bool) -> None:
        if with_header:
            body = (BOM if bom else b"") + header + b"\n" + body
        outside = lines_outside_spans(body.split(b"\n"))
        valid_lines = [
            number
            for number, raw in enumerate(body.split(b"\n"), start=1)
            if with_header and number > 1 and raw in valid and number in outside
        ]
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / label).parent.mkdir(parents=True, exist_ok=True)
            (root / label).write_bytes(body)
            lines = len(body.split(b"\n"))
            if label in USER_FEEDS:
                feeds = read_user_feeds(root)
                for issue in feeds.issues:
                    assert str(issue).startswith(f"{label}:{issue.line}: ")
                    assert 1 <= issue.line <= lines
                values = [*feeds.optouts, *(e.user_id for e in feeds.exclusions)]
                values += [*(e.target_id for e in feeds.exclusions), *feeds.follows]
                values += [artist for artists in feeds.follows.values() for artist in artists]
                assert all(map(admitted_id, values)), values
                if valid_lines:
                    assert "u1" in values, "a valid row was lost"
                return
            parse = feed.parse
            outcome = run_reader(read_csv(root / label, label, feed.fields, parse), label, lines)
        for value in outcome.values.values():
            assert feed.admitted(value), value
        for number in valid_lines:
            assert number in outcome.values, f"line {number} was valid"

    check()


# ---------------------------------------------------------------------------------------------
# Listens: the fast column-wise path and the row-by-row path must agree with the oracle.
# ---------------------------------------------------------------------------------------------

LISTEN_COLUMNS = ("user_id", "track_id", "played_at", "ms_played", "plays")
CATALOG = frozenset({"t1", "t2", "t,3"})
OPTED_OUT, ERASED = "private", "gone"
EPOCH = date(1970, 1, 1).toordinal()
# The listens reader takes printable ids only (stricter than the SPEC's "no control
# characters"); characters between the two rules are left to the arbitrary-bytes test.
listen_ids = st.one_of(
    st.sampled_from(["u1", "u2", OPTED_OUT, ERASED, "t1", "t2", "t,3", "ghost", " u1", ""]),
    st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Cc"]), min_size=0, max_size=12),
)
listen_numbers = st.one_of(
    st.integers(min_value=-5, max_value=200_000).map(str),
    st.sampled_from(
        ["86400000", "86400001", "+5", " 5", "1_000", "５", "1.0", "", "0x10", "9" * 30]
    ),
)


@dataclass(frozen=True)
class Listen:
    user: str
    track: str
    day: int
    ms: int
    plays: int


def listen_day(value: str) -> int | None:
    """The UTC day of a play: ISO 8601 as the standard library reads it, naive meaning UTC."""
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return parsed.toordinal() - EPOCH


def listen_number(value: str, maximum: int) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 1 <= number <= maximum else None


def listen_oracle(row: dict[str, str]) -> Listen | None:
    user, track = row["user_id"], row["track_id"]
    for ident in (user, track):
        if not ident or len(ident) > 128 or not ident.isprintable() or ident != ident.strip():
            return None
    day = listen_day(row["played_at"])
    plays = listen_number(row["plays"], 100_000)
    if day is None or plays is None:
        return None
    ms = listen_number(row["ms_played"], plays * 24 * 3_600_000)
    return None if ms is None else Listen(user, track, day, ms, plays)


@st.composite
def listen_rows(draw: st.DrawFn) -> dict[str, str]:
    """Half plausible rows (known users and tracks, any timestamp), half anything; no value
    holds a line break, so each row is one line and the oracle can number them."""
    good = draw(st.booleans())
    row = {
        "user_id": draw(st.sampled_from(["u1", "u2", OPTED_OUT, ERASED]) if good else listen_ids),
        "track_id": draw(st.sampled_from(sorted(CATALOG | {"ghost"})) if good else listen_ids),
        "played_at": draw(timestamp_texts() if good else st.one_of(timestamp_texts(), nasty_text)),
        "ms_played": draw(st.integers(1, 10**6).map(str) if good else listen_numbers),
        "plays": draw(st.integers(1, 9).map(str) if good else listen_numbers),
    }
    return {name: value.replace("\n", " ") for name, value in row.items()}


@FUZZ
@given(
    rows=st.lists(listen_rows(), min_size=1, max_size=12),
    columns=st.permutations(LISTEN_COLUMNS),
    chunked=st.booleans(),
)
def test_listens_keep_exactly_the_rows_the_oracle_keeps(
    rows: list[dict[str, str]], columns: list[str], chunked: bool
) -> None:
    header = [*columns, "device"]
    body = csv_line(header) + "".join(csv_line([r.get(c, "web") for c in header]) for r in rows)
    expected = [listen_oracle(row) for row in rows]
    kept = [
        e
        for e in expected
        if e is not None and e.track in CATALOG and e.user not in (OPTED_OUT, ERASED)
    ]
    # One line per chunk sends each good row down the fast column-wise path on its own; one
    # chunk for the file sends every row of a file with any bad row down the row-by-row path.
    chunk_bytes = 1 if chunked else 1 << 20
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "listens").mkdir()
        (root / "listens" / "a.csv").write_text(body, encoding="utf-8", newline="")
        with patch("recsys.listening.reader.CHUNK_BYTES", chunk_bytes):
            log, report = read_listens(
                root, CATALOG, excluded_users={OPTED_OUT}, erased_users={ERASED}
            )
    got = [
        Listen(
            log.users.ids[log.user[i]],
            log.tracks.ids[log.track[i]],
            int(log.day[i]),
            int(log.ms_played[i]),
            int(log.plays[i]),
        )
        for i in range(len(log))
    ]
    assert got == kept
    assert report.bad_rows == sum(e is None for e in expected)
    assert report.rows == report.kept_rows + report.bad_rows + report.unknown_track_rows + (
        report.opted_out_rows + report.erased_rows
    )
    for issue in report.issues:
        assert str(issue).startswith(f"listens/a.csv:{issue.line}: ")
        assert expected[issue.line - 2] is None


GOOD_LISTEN = b"u1,t1,2026-11-01T10:00:00Z,200000,1"


@FUZZ
@given(body=feed_files([GOOD_LISTEN]), header=st.booleans(), bom=st.booleans())
def test_any_bytes_in_a_listens_file_are_read_without_an_exception(
    body: bytes, header: bool, bom: bool
) -> None:
    good_rows = 0
    if header:
        good_rows = body.split(b"\n").count(GOOD_LISTEN)
        body = (BOM if bom else b"") + ",".join(LISTEN_COLUMNS).encode() + b"\n" + body
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "listens").mkdir()
        (root / "listens" / "a.csv").write_bytes(body)
        log, report = read_listens(root, CATALOG)
    lines = len(body.split(b"\n"))
    for issue in report.issues:
        assert str(issue).startswith(f"listens/a.csv:{issue.line}: ")
        assert 1 <= issue.line <= lines
    assert all(admitted_id(u) for u in log.users.ids)
    assert ((log.plays >= 1) & (log.ms_played >= 1)).all()
    assert len(log) >= good_rows, "a valid play was lost"


# ---------------------------------------------------------------------------------------------
# The importer: a feed it refuses as a whole leaves the state exactly as it was.
# ---------------------------------------------------------------------------------------------

IMPORTED_FILES = [
    "catalog/artists.jsonl",
    "catalog/labels.jsonl",
    "catalog/tracks.jsonl",
    "flags/ai_flags.jsonl",
    "takedowns.csv",
    *(TRUST_FILES[kind][0] for kind in ("partner", "label", "artist")),
]


def state_rows(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    tables = [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name not in ("audit_log", "sqlite_sequence")
    ]
    return {t: sorted(map(tuple, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}


def small_world() -> DataDir:
    data = DataDir()
    for artist in ("ar1", "ar2"):
        data.artist(artist)
    data.tracks += [track_row("t1", ["ar1"]), track_row("t2", ["ar2", "ar1"])]
    data.flags.append(flag("t2", "detector", 0.2))
    data.takedowns.append(("t9", "rights claim", "2026-01-01T00:00:00Z"))
    return data


def _valid_lines() -> dict[str, list[bytes]]:
    """Per file, the rows of the good import (no CSV header) plus valid rows it lacks (a new
    grant, flag, takedown, artist), so that a second import has something to change."""
    with tempfile.TemporaryDirectory() as folder:
        root = small_world().write(Path(folder))
        lines = {name: (root / name).read_bytes().splitlines() for name in IMPORTED_FILES}
    stamp = "2026-02-01T00:00:00Z"
    for name, extra in {
        "catalog/artists.jsonl": json_line({"artist_id": "ar3", "name": "A3", "partner": "pt1"}),
        "catalog/tracks.jsonl": json_line(track_row("t3", ["ar3"])),
        "flags/ai_flags.jsonl": json_line(flag("t1", "label", 1.0, stamp)),
        "takedowns.csv": csv_bytes(["t1", "rights claim", stamp]),
        "trust/partners.csv": csv_bytes(["pt2", "bob", stamp]),
        "trust/labels.csv": csv_bytes(["lb2", "bob", stamp]),
        "trust/artists.csv": csv_bytes(["ar3", "bob", stamp]),
    }.items():
        lines[name].append(extra)
    return {name: rows[1:] if name.endswith(".csv") else rows for name, rows in lines.items()}


def _headers() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        root = small_world().write(Path(folder))
        return {
            name: (root / name).read_bytes().splitlines()[0]
            for name in IMPORTED_FILES
            if name.endswith(".csv")
        }


HEADERS = _headers()
VALID_LINES = _valid_lines()


@pytest.fixture(scope="module")
def good_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_world().write(tmp_path_factory.mktemp("good-data"))


@st.composite
def fuzzed_feed(draw: st.DrawFn, name: str) -> bytes:
    body = draw(feed_files(VALID_LINES[name]))
    if name in HEADERS and draw(st.integers(0, 3)):
        body = HEADERS[name] + b"\n" + body
    return body


@st.composite
def replacements(draw: st.DrawFn) -> dict[str, bytes | None]:
    """Up to three files of the data directory, each replaced by fuzzed lines or removed;
    half the time also a catalog file the importer must refuse as a whole."""
    names = draw(st.lists(st.sampled_from(IMPORTED_FILES), min_size=1, max_size=3, unique=True))
    files = {name: draw(st.none() | fuzzed_feed(name)) for name in names}
    if draw(st.booleans()):
        broken = draw(st.sampled_from(IMPORTED_FILES[:3]))
        files[broken] = draw(st.sampled_from([None, b"", b"not json\n", b"{}\n"]))
    return files


@settings(FUZZ, max_examples=40)
@given(files=replacements())
def test_an_import_either_publishes_a_pool_of_valid_rows_or_changes_nothing(
    good_data: Path, files: dict[str, bytes | None]
) -> None:
    """Up to three files replaced (by valid and invalid lines, junk) or removed (None)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        state = root / "state"
        conn = open_state(state)
        try:
            import_trusted(conn, state, good_data, AiRules(), NOW)
            before, pointer = state_rows(conn), current_pool_version(conn)
            data = root / "data"
            shutil.copytree(good_data, data)
            for name, body in files.items():
                if body is None:
                    (data / name).unlink()
                else:
                    (data / name).write_bytes(body)
            try:
                # The pool import alone (trust comes only from the staff import above); a
                # fuzzed catalog may drop most of the pool, which is the point here.
                result = import_data_dir(conn, state, data, AiRules(), NOW, max_shrink=None)
            except DataDirectoryError as error:
                assert str(data) in str(error)
                assert current_pool_version(conn) == pointer
                assert state_rows(conn) == before, "a refused import changed the state"
                return
            assert result.catalog.tracks, "published the pool of a catalog with no valid track"
            for track in result.build.snapshot.tracks.values():
                assert admitted_track(track), track
            for issue in result.build.report.issues:
                assert re.match(r"[\w/.]+:\d+: \S", str(issue)), issue
        finally:
            conn.close()
