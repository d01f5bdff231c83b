"""Curator links: validation, storage, tombstones and the audit trail."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pool.audit import read_audit
from pool.fields import FieldError
from pool.state import transaction
from recsys.curation.links import make_link, parse_link_row
from recsys.curation.store import (
    LinkChangedError,
    import_links,
    link_row,
    load_links,
    put_link,
    remove_link,
    row_mark,
)
from recsys.state.schema import open_engine_state

AT = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_engine_state(tmp_path / "state")
    yield connection
    connection.close()


def _link(a: str = "ar1", b: str = "ar2", kind: str = "similar", weight: float | None = 0.5):  # type: ignore[no-untyped-def]
    return make_link(
        artist_a=a,
        artist_b=b,
        kind=kind,
        weight=weight,
        curator="cora",
        note="same scene",
        created_at=AT,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"artist_b": "ar1"}, "cannot be linked to itself"),
        ({"weight": 1.5}, "between 0.0 and 1.0"),
        ({"weight": None}, "field 'weight'"),
        ({"kind": "friend"}, "must be one of block, similar"),
        ({"artist_a": ""}, "field 'artist_a'"),
    ],
)
def test_bad_links_are_refused_with_the_field(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "artist_a": "ar1",
        "artist_b": "ar2",
        "kind": "similar",
        "weight": 0.5,
        "curator": "cora",
        "note": "",
    }
    values.update(fields)
    with pytest.raises(FieldError, match=message):
        make_link(**values, created_at=AT)  # type: ignore[arg-type]


def test_links_are_undirected() -> None:
    assert _link("ar2", "ar1").pair == ("ar1", "ar2")


def test_a_block_needs_no_weight() -> None:
    assert _link(kind="block", weight=None).weight == 0.0


def test_feed_row_parses_like_the_spec_says() -> None:
    link = parse_link_row(
        {
            "artist_a": "x",
            "artist_b": "y",
            "kind": "block",
            "weight": 0.0,
            "curator": "cora",
            "note": "not related",
            "created_at": "2026-11-24T10:00:00Z",
        }
    )
    assert (link.kind, link.created_at.year) == ("block", 2026)


def test_edits_are_audited_and_removal_survives_reimport(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        assert import_links(conn, [_link()], AT) == 1
    put_link(conn, _link(kind="block", weight=None), why="different genres", role="curator")
    assert [link.kind for link in load_links(conn)] == ["block"]
    later = AT + timedelta(days=1)
    removed = remove_link(conn, "ar2", "ar1", by="cora", why="mistake", role="curator", now=later)
    assert removed is not None and removed["kind"] == "block"
    assert load_links(conn) == []
    with transaction(conn):  # the initial file still lists the link: it stays removed
        assert import_links(conn, [_link()], later) == 0
    assert load_links(conn) == []
    actions = [e.action for e in read_audit(conn)]
    assert actions == ["links.import", "links.block", "links.remove"]


def test_removing_a_missing_link_changes_nothing(conn: sqlite3.Connection) -> None:
    assert remove_link(conn, "ar1", "ar9", by="cora", why="x", role="curator", now=AT) is None
    assert read_audit(conn) == []


def test_links_of_one_artist(conn: sqlite3.Connection) -> None:
    put_link(conn, _link("ar1", "ar2"), why="w", role="curator")
    put_link(conn, _link("ar3", "ar4"), why="w", role="curator")
    assert [link.pair for link in load_links(conn, "ar2")] == [("ar1", "ar2")]


def test_an_edit_over_a_changed_pair_is_refused_and_writes_nothing(
    conn: sqlite3.Connection,
) -> None:
    """Two curators edit the same pair: the second, who saw the pair before the first's edit,
    is told instead of overwriting it; nothing of theirs lands, not even an audit record."""
    seen = row_mark(link_row(conn, "ar1", "ar2"))
    assert seen == "none"
    put_link(conn, _link(kind="similar"), why="first", role="curator", if_mark=seen)
    entries = len(read_audit(conn))
    second = make_link(
        artist_a="ar2",
        artist_b="ar1",
        kind="block",
        weight=None,
        curator="dana",
        note="not alike",
        created_at=AT + timedelta(minutes=1),
    )
    with pytest.raises(LinkChangedError) as refused:
        put_link(conn, second, why="second", role="curator", if_mark=seen)
    assert refused.value.current is not None and refused.value.current["curator"] == "cora"
    with pytest.raises(LinkChangedError):
        remove_link(conn, "ar1", "ar2", by="dana", why="x", role="curator", now=AT, if_mark=seen)
    assert [link.kind for link in load_links(conn)] == ["similar"]
    assert len(read_audit(conn)) == entries
    # Told of the first edit, the second curator may save over it knowingly.
    now_seen = row_mark(link_row(conn, "ar1", "ar2"))
    put_link(conn, second, why="second, knowingly", role="curator", if_mark=now_seen)
    assert [link.kind for link in load_links(conn)] == ["block"]
