"""The registry is staff's, changes carry an audit trail, snapshots are content-addressed."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from pool.ai_status import AiRules
from pool.audit import read_audit
from pool.errors import SnapshotError
from pool.importer import SNAPSHOT_DIR, load_current_pool
from pool.snapshot import TRACKS_FILE
from pool.state import load_registry, set_trust, transaction
from tests.factories import DataDir, import_trusted, track_row
from tests.pool.conftest import NOW


def _data(tmp_path: Path, name: str = "data") -> Path:
    data = DataDir()
    data.artist("ar1")
    data.artist("ar2")
    data.tracks += [track_row("t1", ["ar1"]), track_row("t2", ["ar2"])]
    return data.write(tmp_path / name)


def test_revocation_takes_effect_at_next_build_and_survives_reimport(
    tmp_path: Path, conn: sqlite3.Connection, state_dir: Path
) -> None:
    root = _data(tmp_path)
    first = import_trusted(conn, state_dir, root, AiRules(), NOW)
    assert set(first.build.snapshot.tracks) == {"t1", "t2"}
    set_trust(conn, "artist", "ar2", trusted=False, by="tina", why="impersonation", now=NOW)
    # The revocation does not touch the published pool; the next build applies it, even though
    # the initial trust/artists.csv still lists ar2 as verified.
    assert set(load_current_pool(conn, state_dir).tracks) == {"t1", "t2"}
    # Half the pool goes: allowed explicitly (the shrink guard is tested on its own).
    second = import_trusted(
        conn, state_dir, root, AiRules(), NOW + timedelta(hours=1), max_shrink=None
    )
    assert set(second.build.snapshot.tracks) == {"t1"}
    assert second.build.report.rejected_tracks["t2"] == ("unverified_artist",)
    assert "ar2" not in load_registry(conn).verified_artists


def test_every_staff_change_is_audited_with_before_and_after(
    conn: sqlite3.Connection,
) -> None:
    set_trust(conn, "label", "lb9", trusted=True, by="tina", why="contract signed", now=NOW)
    set_trust(conn, "label", "lb9", trusted=False, by="tom", why="fraud", now=NOW)
    entries = [e for e in read_audit(conn) if e.subject == "lb9"]
    assert [(e.actor, e.action, e.why) for e in entries] == [
        ("tina", "trust.grant_label", "contract signed"),
        ("tom", "trust.revoke_label", "fraud"),
    ]
    assert entries[0].before is None
    assert entries[1].before["trusted"] is True
    assert entries[1].after["trusted"] is False


def test_audit_log_refuses_rewrites(conn: sqlite3.Connection) -> None:
    set_trust(conn, "artist", "ar1", trusted=True, by="tina", why="checked", now=NOW)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    assert [e.actor for e in read_audit(conn)] == ["tina"]


def test_failed_change_leaves_no_trail(conn: sqlite3.Connection) -> None:
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute("INSERT INTO trust_registry VALUES ('artist','x',1,'a','b','c')")
        raise RuntimeError("crash between change and commit")
    assert load_registry(conn).verified_artists == frozenset()


def test_same_inputs_give_the_same_version(
    tmp_path: Path, conn: sqlite3.Connection, state_dir: Path
) -> None:
    first = import_trusted(conn, state_dir, _data(tmp_path, "a"), AiRules(), NOW)
    again = import_trusted(conn, state_dir, _data(tmp_path, "b"), AiRules(), NOW)
    assert first.build.snapshot.version == again.build.snapshot.version
    assert first.build.snapshot.version.startswith("pool-")


def test_tampered_snapshot_is_detected(
    tmp_path: Path, conn: sqlite3.Connection, state_dir: Path
) -> None:
    result = import_trusted(conn, state_dir, _data(tmp_path), AiRules(), NOW)
    tracks = state_dir / SNAPSHOT_DIR / result.build.snapshot.version / TRACKS_FILE
    tracks.write_text(tracks.read_text().replace('"t2"', '"t_smuggled"'))
    with pytest.raises(SnapshotError, match="content address"):
        load_current_pool(conn, state_dir)
