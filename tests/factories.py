"""Tiny data directories with known answers, written exactly as partners would deliver them."""

from __future__ import annotations

import json
import sqlite3
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pool.ai_status import AiRules
from pool.importer import ImportResult, import_data_dir
from pool.state import open_state
from pool.trust_import import TrustImport, import_trust_files


def track_row(track_id: str, artist_ids: list[str], **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "track_id": track_id,
        "title": f"Song {track_id}",
        "artist_ids": artist_ids,
        "label_id": "lb1",
        "release_id": f"rl-{track_id}",
        "release_title": f"Release {track_id}",
        "release_date": "2026-11-20",
        "duration_ms": 200_000,
        "isrc": "GBAYE" + str(zlib.crc32(track_id.encode()) % 10_000_000).zfill(7),
        "tags": ["shoegaze"],
        "ai_declaration": "none",
        "partner": "pt1",
    }
    row.update(overrides)
    return row


@dataclass
class DataDir:
    """A data directory under construction; ``write`` puts it on disk."""

    artists: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"label_id": "lb1", "name": "Good Label", "partner": "pt1"},
            {"label_id": "lb2", "name": "Shady Label", "partner": "pt2"},
        ]
    )
    tracks: list[dict[str, Any]] = field(default_factory=list)
    trusted_partners: list[str] = field(default_factory=lambda: ["pt1"])
    trusted_labels: list[str] = field(default_factory=lambda: ["lb1"])
    verified_artists: list[str] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    takedowns: list[tuple[str, str, str]] = field(default_factory=list)

    def artist(self, artist_id: str, *, verified: bool = True, partner: str = "pt1") -> None:
        self.artists.append(
            {"artist_id": artist_id, "name": f"Artist {artist_id}", "partner": partner}
        )
        if verified:
            self.verified_artists.append(artist_id)

    def write(self, root: Path) -> Path:
        (root / "catalog").mkdir(parents=True, exist_ok=True)
        (root / "trust").mkdir(exist_ok=True)
        (root / "flags").mkdir(exist_ok=True)
        for name, rows in (
            ("artists", self.artists),
            ("labels", self.labels),
            ("tracks", self.tracks),
        ):
            (root / "catalog" / f"{name}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in rows)
            )
        stamp = "2026-01-01T00:00:00Z"
        for name, column, by, ids in (
            ("partners", "partner_id", "trusted_by", self.trusted_partners),
            ("labels", "label_id", "trusted_by", self.trusted_labels),
            ("artists", "artist_id", "verified_by", self.verified_artists),
        ):
            at = by.replace("_by", "_at")
            lines = [f"{column},{by},{at}"] + [f"{i},alice,{stamp}" for i in ids]
            (root / "trust" / f"{name}.csv").write_text("\n".join(lines) + "\n")
        (root / "flags" / "ai_flags.jsonl").write_text(
            "".join(json.dumps(f) + "\n" for f in self.flags)
        )
        (root / "takedowns.csv").write_text(
            "track_id,reason,created_at\n" + "".join(",".join(t) + "\n" for t in self.takedowns)
        )
        return root


def flag(
    track_id: str, source: str, score: float, at: str = "2026-11-01T00:00:00Z"
) -> dict[str, Any]:
    return {"track_id": track_id, "source": source, "score": score, "created_at": at}


# Trust enters the registry only through a named staff action (`recsys trust import`); tests
# that build a pool from a data directory run that action first, as its staff would.
TEST_STAFF = "test-trust-team"
_STAFF_NOW = datetime(2026, 1, 2, tzinfo=UTC)


def grant_trust(state_dir: Path, data_dir: Path) -> TrustImport:
    """The staff import of ``data_dir``'s ``trust/`` files into the state in ``state_dir``."""
    conn = open_state(state_dir)
    try:
        return staff_import(conn, data_dir)
    finally:
        conn.close()


def staff_import(conn: sqlite3.Connection, data_dir: Path) -> TrustImport:
    return import_trust_files(
        conn, data_dir, by=TEST_STAFF, why="test fixture: the delivery's registry", now=_STAFF_NOW
    )


def import_trusted(
    conn: sqlite3.Connection,
    state_dir: Path,
    data_dir: Path,
    rules: AiRules,
    now: datetime,
    **options: Any,
) -> ImportResult:
    """``import_data_dir`` after the staff import of the directory's trust files."""
    if (data_dir / "trust").is_dir():
        staff_import(conn, data_dir)
    return import_data_dir(conn, state_dir, data_dir, rules, now, **options)
