"""Importing a data directory into the state and publishing a new pool snapshot.

The edge that does the I/O around ``build_pool``: read the feeds, store the flags and
takedowns, build against the staff's trust registry, write the snapshot, then move the ``pool``
pointer. All state changes happen in one transaction, so an import that fails half-way changes
nothing. The ``trust/`` files are never read here: trust comes only from a named staff action
(``pool.trust_import``), so ids appended to those files grant nothing.

A build that would drop more than ``max_shrink`` of the current pool's tracks refuses
(``PoolShrinkError``) before anything changes: a truncated catalog delivery or a mistaken
revocation should not empty every listener's mixes at the next switch. A rebuild imports with
``publish=False``: the snapshot is written, and its one switch moves the pointer later,
together with the model and the mixes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pool.ai_status import AiRules
from pool.builder import PoolBuild, PoolReport, build_pool
from pool.bulk import gc_paused
from pool.catalog import Catalog, read_catalog
from pool.errors import PoolShrinkError, SnapshotError
from pool.feeds import good_rows, parse_flag, parse_takedown, read_csv, read_jsonl
from pool.model import FeedIssue
from pool.snapshot import PoolSnapshot, read_snapshot, write_snapshot
from pool.state import (
    get_pointer,
    import_flags,
    import_takedowns,
    load_registry,
    load_serving_exclusions,
    set_pointer,
    transaction,
)

log = logging.getLogger(__name__)

FLAGS_FILE = "flags/ai_flags.jsonl"
TAKEDOWNS_FILE = "takedowns.csv"
POOL_POINTER = "pool"
SNAPSHOT_DIR = "pool"
DEFAULT_MAX_SHRINK = 0.2

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImportResult:
    catalog: Catalog
    build: PoolBuild
    flags_added: int
    takedowns_added: int


def import_data_dir(
    conn: sqlite3.Connection,
    state_dir: Path,
    data_dir: Path,
    rules: AiRules,
    now: datetime,
    *,
    max_shrink: float | None = DEFAULT_MAX_SHRINK,
    publish: bool = True,
) -> ImportResult:
    """Import ``data_dir`` and build its pool; raises and changes nothing on failure.

    ``publish`` makes the pool current at once (``pool build``); otherwise the caller moves
    the pointer with ``POOL_POINTER`` at its own switch. ``max_shrink`` (None: no limit) is
    the largest share of the current pool's tracks the new pool may drop."""
    with gc_paused():
        return _import(
            conn, state_dir, data_dir, rules, now, max_shrink=max_shrink, publish=publish
        )


def _import(
    conn: sqlite3.Connection,
    state_dir: Path,
    data_dir: Path,
    rules: AiRules,
    now: datetime,
    *,
    max_shrink: float | None,
    publish: bool,
) -> ImportResult:
    catalog = read_catalog(data_dir)
    issues: list[FeedIssue] = []
    with transaction(conn):
        flags_added = 0
        if (data_dir / FLAGS_FILE).is_file():
            flag_rows = read_jsonl(data_dir / FLAGS_FILE, FLAGS_FILE, parse_flag)
            flags_added = import_flags(conn, good_rows(flag_rows, issues))
        takedowns_added = 0
        if (data_dir / TAKEDOWNS_FILE).is_file():
            takedown_rows = read_csv(
                data_dir / TAKEDOWNS_FILE,
                TAKEDOWNS_FILE,
                ("track_id", "reason", "created_at"),
                parse_takedown,
            )
            takedowns_added = import_takedowns(conn, good_rows(takedown_rows, issues))
        build = build_pool(
            catalog, load_registry(conn), load_serving_exclusions(conn, rules), tuple(issues)
        )
        if max_shrink is not None:
            check_shrink(conn, build.report.admitted, max_shrink)
        publish_pool(conn, state_dir, build, now, make_current=publish)
    return ImportResult(catalog, build, flags_added, takedowns_added)


def check_shrink(conn: sqlite3.Connection, admitted: int, max_shrink: float) -> None:
    """Refuse a pool that drops more than ``max_shrink`` of the current pool's tracks."""
    current = current_pool_version(conn)
    if current is None:
        return
    row = conn.execute("SELECT summary FROM pool_versions WHERE version = ?", (current,)).fetchone()
    if row is None:
        return
    before = int(json.loads(row[0]).get("admitted", 0))
    if before == 0 or admitted >= before * (1.0 - max_shrink):
        return
    raise PoolShrinkError(
        f"the new pool would admit {admitted:,} tracks, {1 - admitted / before:.1%} fewer than"
        f" the current pool's {before:,} (the limit is {max_shrink:.0%}, setting"
        " pool.max_shrink); nothing was changed. If the drop is intended, run again with"
        " --allow-shrink"
    )


def _report_document(report: PoolReport, built_at: datetime) -> dict[str, object]:
    return {
        "built_at": built_at.isoformat(),
        "summary": report.summary(),
        "issues": [
            {"file": i.file, "line": i.line, "code": i.code, "reason": i.reason}
            for i in report.issues
        ],
        "rejected_tracks": {t: list(r) for t, r in sorted(report.rejected_tracks.items())},
        "held_tracks": dict(sorted(report.held_tracks.items())),
        "delivered": {kind: list(ids) for kind, ids in report.delivered.items()},
    }


def publish_pool(
    conn: sqlite3.Connection,
    state_dir: Path,
    build: PoolBuild,
    now: datetime,
    *,
    make_current: bool = True,
) -> None:
    """Write the snapshot files and record the version, then (``make_current``) point
    ``pool`` at it, inside the caller's transaction."""
    document = _report_document(build.report, now)
    write_snapshot(state_dir / SNAPSHOT_DIR, build.snapshot, build.encoded, document)
    conn.execute(
        "INSERT OR REPLACE INTO pool_versions VALUES (?, ?, ?)",
        (build.snapshot.version, now.isoformat(), json.dumps(build.report.summary(max_issues=0))),
    )
    if make_current:
        set_pointer(conn, POOL_POINTER, build.snapshot.version, now)


def current_pool_version(conn: sqlite3.Connection) -> str | None:
    return get_pointer(conn, POOL_POINTER)


def load_current_pool(conn: sqlite3.Connection, state_dir: Path) -> PoolSnapshot:
    """The snapshot the ``pool`` pointer names; ``SnapshotError`` when none was built yet."""
    version = current_pool_version(conn)
    if version is None:
        raise SnapshotError("no pool has been built yet: run `recsys pool build --data DIR`")
    return read_snapshot(state_dir / SNAPSHOT_DIR, version)
