"""Field validators for feed rows: each returns the clean value or raises ``FieldError``.

Feeds come from partners we do not control, so every value is checked for type and shape
before it can become a domain object. The feed readers turn ``FieldError`` into a
``FeedIssue`` with file and line; the staff command line and the HTTP API use the same checks
on their arguments and bodies, and turn it into one error line or a 422 naming the field.

Every text check refuses a string that UTF-8 cannot encode (a lone surrogate: ``"\\ud800"``
in a JSON body, or the ``surrogateescape`` form Python gives a command-line byte that is not
UTF-8, such as ``$'\\xfe'``). SQLite, the JSON renderers and the log all encode to UTF-8, so
such a value would otherwise fail far from its field, as a traceback or a 500.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 1024
MAX_DURATION_MS = 24 * 60 * 60 * 1000
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The only code points of a Python str that UTF-8 cannot encode.
_SURROGATES = re.compile(r"[\ud800-\udfff]")
NOT_UTF8 = "is not valid UTF-8 text (it holds a lone surrogate or a byte that is not UTF-8)"
ISRC_PATTERN = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


# What a message calls a value's type: feeds and bodies are JSON, so JSON's names ("got
# null", not "got NoneType").
_JSON_KINDS: dict[type, str] = {
    type(None): "null",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}


def json_kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


class FieldError(ValueError):
    """A field of a feed row is missing or malformed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field '{field}': {message}")
        self.field = field


def is_utf8_encodable(value: str) -> bool:
    """Whether ``value`` can be stored, rendered and logged: UTF-8 can encode it."""
    return _SURROGATES.search(value) is None


def require(row: dict[str, Any], field: str) -> Any:
    if field not in row or row[field] is None:
        raise FieldError(field, "is missing")
    return row[field]


def check_id(value: Any, field: str) -> str:
    """An opaque id: a non-empty string of at most 128 characters without control characters.

    Invisible characters (zero-width spaces, byte-order marks, direction marks: anything
    ``str.isprintable`` refuses) are refused too, as the listens reader does: an id that
    looks like another but is not would let a feed pass one artist off as another.
    """
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string id, got {json_kind(value)}")
    if not value or len(value) > MAX_ID_LENGTH:
        raise FieldError(field, f"must be 1-{MAX_ID_LENGTH} characters long")
    if not value.isprintable() or value != value.strip():
        if not is_utf8_encodable(value):  # refused either way; this says why more precisely
            raise FieldError(field, NOT_UTF8)
        raise FieldError(
            field, "must not contain control characters, invisible ones or surrounding spaces"
        )
    return value


def check_text(value: Any, field: str, *, allow_empty: bool = False) -> str:
    """Free text (a note, a why, a name): at most 1,024 characters, no control characters,
    and encodable as UTF-8, so that it can be written to the state and the audit trail."""
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {json_kind(value)}")
    if not is_utf8_encodable(value):
        raise FieldError(field, NOT_UTF8)
    if not allow_empty and not value.strip():
        raise FieldError(field, "must not be empty")
    if len(value) > MAX_TEXT_LENGTH:
        raise FieldError(field, f"must be at most {MAX_TEXT_LENGTH} characters")
    if _CONTROL_CHARS.search(value):
        raise FieldError(field, "must not contain control characters")
    return value


def check_id_list(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise FieldError(field, "must be a non-empty list of ids")
    ids = tuple(check_id(item, field) for item in value)
    if len(set(ids)) != len(ids):
        raise FieldError(field, "lists the same id twice")
    return ids


def check_tags(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise FieldError(field, "must be a list of strings")
    return tuple(check_text(item, field).strip().lower() for item in value)


def check_date(value: Any, field: str) -> date:
    if not isinstance(value, str) or not DATE_PATTERN.fullmatch(value):
        raise FieldError(field, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, f"is not a calendar date: {value!r}") from None


def check_timestamp(value: Any, field: str) -> datetime:
    """An ISO 8601 timestamp; a naive one is read as UTC so comparisons never mix kinds."""
    if not isinstance(value, str):
        raise FieldError(field, "must be an ISO 8601 timestamp like 2026-11-24T10:00:00Z")
    try:
        if len(value) < 10:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(field, f"is not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 is a valid text for an instant before year 1 in UTC.
        raise FieldError(field, f"is outside the years 1-9999 in UTC: {value!r}") from None


def check_positive_int(value: Any, field: str, *, maximum: int) -> int:
    # bool is an int subclass: `true` in a feed is a type error, not the number 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"must be an integer, got {json_kind(value)}")
    if value <= 0 or value > maximum:
        raise FieldError(field, f"must be between 1 and {maximum}, got {value}")
    return value


def check_score(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(field, f"must be a number, got {json_kind(value)}")
    score = float(value)
    if not 0.0 <= score <= 1.0:  # also rejects NaN
        raise FieldError(field, f"must be between 0.0 and 1.0, got {value}")
    return score


def check_isrc(value: Any, field: str) -> str:
    """An ISRC, normalised to its 12-character form (hyphens dropped, upper case).

    ISO 3901 codes are ASCII: without that check, upper-casing would turn ``ß`` into ``SS`` or
    a dotless ``ı`` into ``I`` and make a valid-looking code out of one that is not."""
    if not isinstance(value, str):
        raise FieldError(field, "must be a string ISRC")
    if not value.isascii():
        raise FieldError(field, f"is not a valid ISRC (ASCII only): {value!r}")
    normalised = value.replace("-", "").upper()
    if not ISRC_PATTERN.fullmatch(normalised):
        raise FieldError(field, f"is not a valid ISRC (CC-XXX-YY-NNNNN): {value!r}")
    return normalised


def check_choice(value: Any, field: str, choices: frozenset[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise FieldError(field, f"must be one of {', '.join(sorted(choices))}, got {value!r}")
    return value
