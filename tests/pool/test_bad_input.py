"""Bad feed rows: each is reported with file, line and reason, and never admitted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pool.ai_status import AiRules
from pool.catalog import read_catalog
from pool.errors import DataDirectoryError
from pool.feeds import _fast_track, parse_track_checked, read_csv
from pool.fields import FieldError
from pool.importer import current_pool_version
from pool.model import FeedIssue
from pool.state import list_trust
from tests.factories import DataDir, import_trusted, staff_import, track_row
from tests.pool.conftest import NOW

TRACKS = "catalog/tracks.jsonl"


def _data_with_track_lines(tmp_path: Path, lines: list[bytes]) -> Path:
    data = DataDir()
    data.artist("ar1")
    data.tracks.append(track_row("t_good", ["ar1"]))
    root = data.write(tmp_path / "data")
    with (root / TRACKS).open("ab") as handle:
        for line in lines:
            handle.write(line + b"\n")
    return root


def _row(**overrides: object) -> bytes:
    row = track_row("t_bad", ["ar1"])
    row.update(overrides)
    return json.dumps(row).encode()


BAD_ROWS = {
    "malformed JSON": (b'{"track_id": "t_bad", ', "malformed JSON"),
    "not an object": (b'["t_bad"]', "one JSON object"),
    "missing field": (json.dumps({"track_id": "t_bad"}).encode(), "field 'title': is missing"),
    "wrong type": (_row(duration_ms="200000"), "field 'duration_ms': must be an integer"),
    "bool as number": (_row(duration_ms=True), "field 'duration_ms': must be an integer"),
    "negative duration": (_row(duration_ms=-5), "field 'duration_ms': must be between"),
    "bad ISRC": (_row(isrc="US-XYZ-1"), "field 'isrc': is not a valid ISRC"),
    "bad date": (_row(release_date="2026-02-30"), "field 'release_date': is not a calendar date"),
    "unknown artist": (_row(artist_ids=["ar1", "ghost"]), "unknown artist(s) ghost"),
    "unknown label": (_row(label_id="lb-nowhere"), "unknown label lb-nowhere"),
    "empty artists": (_row(artist_ids=[]), "field 'artist_ids': must be a non-empty list"),
    "control char id": (_row(track_id="t\u0007bad"), "field 'track_id': must not contain"),
    # \x1e is the fast path's own separator: "0\x1e0" once passed there as two clean texts.
    "separator in a text": (_row(title="0\x1e0"), "field 'title': must not contain"),
    "long id": (_row(track_id="t" * 129), "field 'track_id': must be 1-128"),
    "bad declaration": (_row(ai_declaration="maybe"), "field 'ai_declaration': must be one of"),
    "non-UTF-8": (b'{"track_id": "t_bad", "title": "\xff\xfe"}', "not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_track_row_is_reported_with_file_and_line(tmp_path: Path, case: str) -> None:
    line, reason = BAD_ROWS[case]
    catalog = read_catalog(_data_with_track_lines(tmp_path, [line]))
    assert [str(i) for i in catalog.issues] == [f"{TRACKS}:2: {catalog.issues[0].reason}"]
    assert reason in catalog.issues[0].reason
    assert set(catalog.tracks) == {"t_good"}


def test_duplicate_ids_refuse_every_copy(tmp_path: Path) -> None:
    root = _data_with_track_lines(tmp_path, [_row(), _row(title="Other metadata")])
    catalog = read_catalog(root)
    assert set(catalog.tracks) == {"t_good"}
    assert sorted(i.line for i in catalog.issues) == [2, 3]
    assert {i.code for i in catalog.issues} == {"duplicate_id"}


def test_bad_rows_do_not_stop_the_rest_of_the_import(tmp_path: Path) -> None:
    lines = [b"not json", _row(isrc="nope"), json.dumps(track_row("t_after", ["ar1"])).encode()]
    catalog = read_catalog(_data_with_track_lines(tmp_path, lines))
    assert set(catalog.tracks) == {"t_good", "t_after"}
    assert [i.line for i in catalog.issues] == [2, 3]


def test_bad_trust_row_is_reported_and_not_granted(
    tmp_path: Path, conn: sqlite3.Connection, state_dir: Path
) -> None:
    data = DataDir()
    data.artist("ar1")
    data.tracks.append(track_row("t1", ["ar1"]))
    root = data.write(tmp_path / "data")
    with (root / "trust" / "artists.csv").open("a") as handle:
        handle.write("ar2,bob,yesterday\nar3,bob\n")
    result = staff_import(conn, root)
    assert [str(i) for i in result.issues] == [
        "trust/artists.csv:3: field 'verified_at': is not an ISO 8601 timestamp: 'yesterday'",
        "trust/artists.csv:4: has 2 fields, the header has 3",
    ]
    assert {row["id"] for row in list_trust(conn, "artist")} == {"ar1"}


@pytest.mark.parametrize("layout", ["missing", "empty", "no tracks file"])
def test_unusable_directory_is_a_clear_error_and_changes_nothing(
    tmp_path: Path, conn: sqlite3.Connection, state_dir: Path, layout: str
) -> None:
    good = DataDir()
    good.artist("ar1")
    good.tracks.append(track_row("t1", ["ar1"]))
    before = import_trusted(conn, state_dir, good.write(tmp_path / "good"), AiRules(), NOW)
    bad = tmp_path / "bad"
    if layout != "missing":
        bad.mkdir()
    if layout == "no tracks file":
        (bad / "catalog").mkdir()
        (bad / "catalog" / "artists.jsonl").write_text("")
        (bad / "catalog" / "labels.jsonl").write_text("")
    with pytest.raises(DataDirectoryError, match=str(bad)):
        import_trusted(conn, state_dir, bad, AiRules(), NOW)
    assert current_pool_version(conn) == before.build.snapshot.version
    assert {row["id"] for row in list_trust(conn, "artist")} == {"ar1"}


@settings(max_examples=300, deadline=None)
@given(
    overrides=st.dictionaries(
        st.sampled_from(
            [
                "track_id",
                "title",
                "artist_ids",
                "label_id",
                "release_date",
                "duration_ms",
                "isrc",
                "tags",
                "ai_declaration",
                "partner",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-5, 10**9),
            st.floats(allow_nan=True),
            st.text(max_size=140),
            st.lists(st.text(max_size=5), max_size=3),
            st.sampled_from(
                [
                    "none",
                    "generated",
                    " id",
                    "id ",
                    "ok\u2003",
                    "2026-02-30",
                    "GB-AYE-26-00001",
                    "gbaye2600001",
                    "0\x1e0",
                    "a\x1eb",
                ]
            ),
        ),
        max_size=3,
    )
)
def test_the_fast_path_never_admits_what_the_field_checks_refuse(
    overrides: dict[str, object],
) -> None:
    row = track_row("t1", ["ar1"])
    row.update(overrides)
    fast = _fast_track(row)
    try:
        slow = parse_track_checked(row)
    except FieldError:
        assert fast is None
    else:
        assert fast is None or fast == slow


def test_parallel_parse_of_a_large_feed_gives_the_same_catalog_and_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = DataDir()
    data.artist("ar1")
    data.tracks += [track_row(f"t{i}", ["ar1"]) for i in range(400)]
    root = data.write(tmp_path / "data")
    lines = (root / TRACKS).read_bytes().splitlines(keepends=True)
    lines[123] = b'{"track_id": broken\n'
    lines[321] = _row(isrc="nope").replace(b'"t_bad"', b'"t_other"') + b"\n"
    (root / TRACKS).write_bytes(b"".join(lines))
    sequential = read_catalog(root)
    monkeypatch.setattr("pool.catalog.PARALLEL_MIN_BYTES", 0)
    parallel = read_catalog(root)
    assert parallel.tracks == sequential.tracks
    assert [str(i) for i in parallel.issues] == [str(i) for i in sequential.issues]
    assert [i.line for i in parallel.issues] == [124, 322]


def test_no_line_inside_a_quoted_value_that_spans_lines_is_read_as_a_row(tmp_path: Path) -> None:
    """RFC 4180 lets a quoted value span lines; a feed's rows are lines, so such a value is
    refused, and so is every line inside it, which would otherwise read as a row of its own
    (``"`` then ``0`` then ``"`` used to opt user "0" out)."""
    path = tmp_path / "optouts.csv"
    path.write_text('user_id\nu1\n"\n0\n"\nu2\n"ok"\n')
    parsed = list(read_csv(path, "optouts.csv", ("user_id",), lambda row: row["user_id"]))
    rows = [item for item in parsed if not isinstance(item, FeedIssue)]
    issues = [item for item in parsed if isinstance(item, FeedIssue)]
    assert rows == [(2, "u1"), (6, "u2"), (7, "ok")]
    assert [issue.line for issue in issues] == [3, 4, 5]
    assert "inside a quoted value" in issues[1].reason
