"""The follows file read by Arrow (``plain_id_columns``) gives what the row-by-row reader
gives, and any file that is not plain is left to the row-by-row reader, which names each bad
row."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pool.feeds import good_rows, read_csv
from pool.fields import check_id
from pool.model import FeedIssue
from recsys.state.user_feeds import FOLLOWS_FILE, plain_id_columns, read_user_feeds

COLUMNS = ("user_id", "artist_id")


def _row_by_row(path: Path) -> tuple[list[tuple[str, str]], list[FeedIssue]]:
    issues: list[FeedIssue] = []
    rows = read_csv(
        path,
        FOLLOWS_FILE,
        COLUMNS,
        lambda r: (check_id(r["user_id"], "user_id"), check_id(r["artist_id"], "artist_id")),
    )
    return list(good_rows(rows, issues)), issues


def _follows(tmp: Path, body: bytes) -> Path:
    path = tmp / FOLLOWS_FILE
    path.write_bytes(body)
    return path


def test_a_plain_file_is_read_by_arrow_with_the_same_rows(tmp_path: Path) -> None:
    body = b"artist_id, user_id ,since\n" + b"".join(
        b"ar%d,u%d,2026-01-0%d\n" % (i % 7, i % 13, 1 + i % 9) for i in range(500)
    )
    path = _follows(tmp_path, body)
    plain = plain_id_columns(path, COLUMNS)
    assert plain is not None
    rows, issues = _row_by_row(path)
    assert list(zip(*plain, strict=True)) == rows and not issues
    feeds = read_user_feeds(tmp_path)
    assert feeds.follows["u3"] == frozenset(a for u, a in rows if u == "u3")
    assert not feeds.issues


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\xef\xbb\xbfuser_id,artist_id\nu1,ar1\n", "a byte-order mark"),
        (b"user_id,artist_id\nu1,ar1\n\nu2,ar2\n", "a blank line"),
        (b"user_id,artist_id\nu1,ar1\r\nu2,ar2\r\n", "carriage returns"),
        (b'user_id,artist_id\n"u1",ar1\n', "a quote"),
        (b"user_id,artist_id\nu1,ar1,extra\n", "a row with a field too many"),
        (b"user_id,artist_id\nu1\n", "a row with a field too few"),
        (b"user_id,artist_id\nu1, ar1\n", "a value with a space before it"),
        (b"user_id,artist_id\nu1,\n", "an empty id"),
        (b"user_id,artist_id\nu1,ar\x01\n", "a control character"),
        (b"user_id,artist_id\nu1,\xc3\xa9\n", "a byte outside ASCII"),
        (b"user_id,artist\nu1,ar1\n", "a header without artist_id"),
        (b"user_id,artist_id,user_id\nu1,ar1,u2\n", "a column named twice"),
        (b"user_id,artist_id\nu1," + b"a" * 129 + b"\n", "an id too long"),
    ],
)
def test_a_file_that_is_not_plain_goes_row_by_row(tmp_path: Path, body: bytes, why: str) -> None:
    path = _follows(tmp_path, body)
    assert plain_id_columns(path, COLUMNS) is None, why
    rows, issues = _row_by_row(path)
    feeds = read_user_feeds(tmp_path)
    assert {(u, a) for u, artists in feeds.follows.items() for a in artists} == set(rows)
    assert [str(i) for i in feeds.issues] == [str(i) for i in issues]


_ID = st.text(alphabet=st.sampled_from('ab1 é,"\r\x07'), min_size=0, max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_ID, _ID), max_size=12), st.booleans())
def test_arrow_or_not_the_follows_are_the_row_by_row_readers(
    pairs: list[tuple[str, str]], final_newline: bool
) -> None:
    lines = ["user_id,artist_id", *(f"{u},{a}" for u, a in pairs)]
    body = ("\n".join(lines) + ("\n" if final_newline else "")).encode()
    with tempfile.TemporaryDirectory() as folder:
        path = _follows(Path(folder), body)
        rows, issues = _row_by_row(path)
        plain = plain_id_columns(path, COLUMNS)
        if plain is not None:
            assert list(zip(*plain, strict=True)) == rows and not issues
        feeds = read_user_feeds(Path(folder))
    assert {(u, a) for u, artists in feeds.follows.items() for a in artists} == set(rows)
    assert [str(i) for i in feeds.issues] == [str(i) for i in issues]
