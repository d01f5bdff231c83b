"""A link edit's preview shows the radio the saved edit will really give.

For each kind of edit (a block, a new similar link, a curated link removed so the pair falls
back to ALS, a block removed), the preview's "after" radio is compared with the artist radio
of an engine loaded from the state after the edit was saved: the same tracks, in the same
order, with the same reasons.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from recsys.console.link_preview import LinkChange, artist_radio, preview
from recsys.curation.store import load_links, put_link, remove_link
from recsys.engine.loading import Engine, load_engine
from recsys.settings import Settings
from recsys.state.schema import open_engine_state
from tests.recsys.api.world import NOW, RebuiltWorld, copy_state, settings_for

LATER = NOW + timedelta(minutes=5)


@pytest.fixture
def state(
    console_world: RebuiltWorld, tmp_path: Path
) -> Iterator[tuple[sqlite3.Connection, Settings]]:
    settings = settings_for(copy_state(console_world, tmp_path / "state"))
    conn = open_engine_state(settings.state_dir)
    yield conn, settings
    conn.close()


def _engine(conn: sqlite3.Connection, settings: Settings) -> Engine:
    return load_engine(conn, settings.state_dir, settings, NOW)


def _tracks(engine: Engine, artist: str) -> list[tuple[str, str, dict[str, object]]]:
    return [(t.track_id, t.reason.type, t.reason.via) for t in artist_radio(engine, artist).tracks]


def _save(conn: sqlite3.Connection, change: LinkChange) -> None:
    if change.kind == "remove":
        assert remove_link(
            conn, change.artist, change.other, by="cora", why=change.note, role="curator", now=LATER
        )
    else:
        put_link(conn, change.as_link(), why=change.note, role="curator")


def _check(conn: sqlite3.Connection, settings: Settings, change: LinkChange) -> None:
    engine = _engine(conn, settings)
    diff = preview(engine, change, settings.graph)
    predicted = [(t.track_id, t.reason.type, t.reason.via) for t in diff.after]
    _save(conn, change)
    assert predicted == _tracks(_engine(conn, settings), change.artist)
    # And the preview is not trivially "no change": the radio did change.
    assert predicted != _tracks(engine, change.artist)


def _change(artist: str, other: str, kind: str, weight: float = 0.0) -> LinkChange:
    return LinkChange(artist, other, kind, weight, "cora", "previewed edit", LATER)  # type: ignore[arg-type]


def _strongest_als_neighbour(engine: Engine, artist: str) -> str:
    row = engine.context.graph[artist]
    return max((o for o, d in row.items() if d["source"] == "als"), key=lambda o: row[o]["score"])


def _seed(engine: Engine) -> str:
    """A well-connected artist with tracks, so that its radio has a neighbourhood to change."""
    return max(
        (a for a in engine.context.catalog.artist_tracks if a in engine.context.graph),
        key=lambda a: (len(engine.context.graph[a]), a),
    )


def test_block_preview_is_the_saved_radio(state: tuple[sqlite3.Connection, Settings]) -> None:
    conn, settings = state
    engine = _engine(conn, settings)
    seed = _seed(engine)
    _check(conn, settings, _change(seed, _strongest_als_neighbour(engine, seed), "block"))


def test_new_link_preview_is_the_saved_radio(state: tuple[sqlite3.Connection, Settings]) -> None:
    conn, settings = state
    engine = _engine(conn, settings)
    seed = _seed(engine)
    far = next(
        a
        for a in engine.context.catalog.artists_by_listeners
        if a != seed and a not in engine.context.graph[seed] and a in engine.context.graph
    )
    _check(conn, settings, _change(seed, far, "similar", 0.95))


def test_removed_link_preview_falls_back_to_als(state: tuple[sqlite3.Connection, Settings]) -> None:
    conn, settings = state
    engine = _engine(conn, settings)
    seed = _seed(engine)
    other = _strongest_als_neighbour(engine, seed)
    # A curator's link over an ALS edge, then removed: the pair is an ALS edge again.
    link = _change(seed, other, "similar", 0.05)
    put_link(conn, link.as_link(), why="weaker than the model says", role="curator")
    _check(conn, settings, _change(seed, other, "remove"))


def test_removed_block_preview_is_the_saved_radio(
    state: tuple[sqlite3.Connection, Settings],
) -> None:
    conn, settings = state
    engine = _engine(conn, settings)
    seed = _seed(engine)
    other = _strongest_als_neighbour(engine, seed)
    put_link(conn, _change(seed, other, "block").as_link(), why="not alike", role="curator")
    _check(conn, settings, _change(seed, other, "remove"))


def test_world_has_curated_links(state: tuple[sqlite3.Connection, Settings]) -> None:
    """The fixture world seeds curator links, which the console pages show by curator."""
    conn, _ = state
    assert any(link.kind == "similar" for link in load_links(conn))
