"""Importing a data directory into the state and publishing a new pool snapshot.

The edge that does the I/O around ``build_pool``: read the feeds, seed the registry, store the
flags and takedowns, build, write the snapshot, then move the ``pool`` pointer. All state
changes happen in one transaction, so an import that fails half-way changes nothing.
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
from pool.errors import SnapshotError
from pool.feeds import (
    TRUST_FILES,
    good_rows,
    parse_flag,
    parse_takedown,
    read_csv,
    read_jsonl,
    trust_parser,
)
from pool.model import FeedIssue
from pool.snapshot import PoolSnapshot, read_snapshot, write_snapshot
from pool.state import (
    get_pointer,
    import_flags,
    import_takedowns,
    import_trust_grants,
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

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImportResult:
    catalog: Catalog
    build: PoolBuild
    trust_grants_added: int
    flags_added: int
    takedowns_added: int


def import_data_dir(
    conn: sqlite3.Connection, state_dir: Path, data_dir: Path, rules: AiRules, now: datetime
) -> ImportResult:
    """Import ``data_dir`` and make its pool current; raises and changes nothing on failure."""
    with gc_paused():
        return _import(conn, state_dir, data_dir, rules, now)


def _import(
    conn: sqlite3.Connection, state_dir: Path, data_dir: Path, rules: AiRules, now: datetime
) -> ImportResult:
    catalog = read_catalog(data_dir)
    issues: list[FeedIssue] = []
    with transaction(conn):
        grants_added = 0
        for kind, (relative, *columns) in TRUST_FILES.items():
            path = data_dir / relative
            if not path.is_file():
                log.info(
                    "%s absent: the trust registry keeps its current %s grants", relative, kind
                )
                continue
            rows = read_csv(path, relative, tuple(columns), trust_parser(kind))
            grants_added += import_trust_grants(
                conn, good_rows(rows, issues), source=relative, now=now
            )
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
        publish_pool(conn, state_dir, build, now)
    return ImportResult(catalog, build, grants_added, flags_added, takedowns_added)


def _report_document(report: PoolReport, built_at: datetime) -> dict[str, object]:
    return {
        "built_at": built_at.isoformat(),
        "summary": report.summary(),
        "issues": [
            {"file": i.file, "line": i.line, "code": i.code, "reason": i.reason}
            for i in report.issues
        ],
        "rejected_tracks": {t: list(r) for t, r in sorted(report.rejected_tracks.items())},
    }


def publish_pool(
    conn: sqlite3.Connection, state_dir: Path, build: PoolBuild, now: datetime
) -> None:
    """Write the snapshot files, then point ``pool`` at them (inside the caller's transaction)."""
    document = _report_document(build.report, now)
    write_snapshot(state_dir / SNAPSHOT_DIR, build.snapshot, build.encoded, document)
    conn.execute(
        "INSERT OR REPLACE INTO pool_versions VALUES (?, ?, ?)",
        (build.snapshot.version, now.isoformat(), json.dumps(build.report.summary(max_issues=0))),
    )
    set_pointer(conn, POOL_POINTER, build.snapshot.version, now)


def current_pool_version(conn: sqlite3.Connection) -> str | None:
    return get_pointer(conn, POOL_POINTER)


def load_current_pool(conn: sqlite3.Connection, state_dir: Path) -> PoolSnapshot:
    """The snapshot the ``pool`` pointer names; ``SnapshotError`` when none was built yet."""
    version = current_pool_version(conn)
    if version is None:
        raise SnapshotError("no pool has been built yet: run `recsys pool build --data DIR`")
    return read_snapshot(state_dir / SNAPSHOT_DIR, version)
