"""Immutable, content-addressed pool snapshots and their files.

The version id is a hash of the admitted tracks and their artists, so the same inputs always
give the same version and a stored snapshot can be checked against its own name. A snapshot is
written into a temporary folder and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import orjson

from pool.errors import SnapshotError
from pool.files import publish_folder, replace_file
from pool.model import AiDeclaration, Artist, Label, Track

TRACKS_FILE = "tracks.jsonl"
ARTISTS_FILE = "artists.jsonl"
LABELS_FILE = "labels.jsonl"
REPORT_FILE = "report.json"


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """The tracks humans can vouch for, with the catalog's verified artists and trusted labels."""

    version: str
    tracks: Mapping[str, Track]
    artists: Mapping[str, Artist]
    labels: Mapping[str, Label]

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.tracks

    def __len__(self) -> int:
        return len(self.tracks)


def track_record(track: Track) -> dict[str, Any]:
    return {
        "track_id": track.track_id,
        "title": track.title,
        "artist_ids": list(track.artist_ids),
        "label_id": track.label_id,
        "release_id": track.release_id,
        "release_title": track.release_title,
        "release_date": track.release_date.isoformat(),
        "duration_ms": track.duration_ms,
        "isrc": track.isrc,
        "tags": list(track.tags),
        "ai_declaration": track.ai_declaration,
        "partner": track.partner,
    }


def _track_from_record(row: dict[str, Any]) -> Track:
    return Track(
        track_id=row["track_id"],
        title=row["title"],
        artist_ids=tuple(row["artist_ids"]),
        label_id=row["label_id"],
        release_id=row["release_id"],
        release_title=row["release_title"],
        release_date=date.fromisoformat(row["release_date"]),
        duration_ms=row["duration_ms"],
        isrc=row["isrc"],
        tags=tuple(row["tags"]),
        ai_declaration=cast(AiDeclaration, row["ai_declaration"]),
        partner=row["partner"],
    )


def _lines(records: Iterator[dict[str, Any]]) -> bytes:
    """Compact JSON lines (orjson: the same bytes for the same records, fast at a million)."""
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def _encode(
    tracks: Mapping[str, Track], artists: Mapping[str, Artist], labels: Mapping[str, Label]
) -> tuple[bytes, bytes, bytes]:
    track_bytes = _lines(track_record(tracks[t]) for t in sorted(tracks))
    artist_bytes = _lines(
        {"artist_id": a.artist_id, "name": a.name, "partner": a.partner}
        for a in (artists[k] for k in sorted(artists))
    )
    label_bytes = _lines(
        {"label_id": x.label_id, "name": x.name, "partner": x.partner}
        for x in (labels[k] for k in sorted(labels))
    )
    return track_bytes, artist_bytes, label_bytes


def _version_of(track_bytes: bytes, artist_bytes: bytes, label_bytes: bytes) -> str:
    digest = hashlib.sha256()
    for part in (track_bytes, artist_bytes, label_bytes):
        digest.update(hashlib.sha256(part).digest())
    return "pool-" + digest.hexdigest()[:20]


def make_snapshot(
    tracks: Mapping[str, Track], artists: Mapping[str, Artist], labels: Mapping[str, Label]
) -> tuple[PoolSnapshot, tuple[bytes, bytes, bytes]]:
    """Freeze admitted tracks into a snapshot; also returns its encoded files for storage."""
    encoded = _encode(tracks, artists, labels)
    return PoolSnapshot(_version_of(*encoded), dict(tracks), dict(artists), dict(labels)), encoded


def write_snapshot(
    root: Path, snapshot: PoolSnapshot, encoded: tuple[bytes, bytes, bytes], report: dict[str, Any]
) -> Path:
    """Store a snapshot under ``root/<version>``; an existing complete copy is kept as is."""
    report_bytes = orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    def fill(staging: Path) -> None:
        for name, payload in zip((TRACKS_FILE, ARTISTS_FILE, LABELS_FILE), encoded, strict=True):
            replace_file(staging, name, lambda out, data=payload: out.write(data))
        replace_file(staging, REPORT_FILE, lambda out: out.write(report_bytes))

    def intact(folder: Path) -> bool:
        """The kept copy holds exactly these tracks, artists and labels, and a report that
        reads (a damaged copy is written again)."""
        names = (TRACKS_FILE, ARTISTS_FILE, LABELS_FILE)
        try:
            same = all(
                (folder / name).read_bytes() == payload
                for name, payload in zip(names, encoded, strict=True)
            )
            kept = orjson.loads((folder / REPORT_FILE).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return False
        return same and isinstance(kept, dict) and {"summary", "built_at"} <= kept.keys()

    return publish_folder(root / snapshot.version, REPORT_FILE, fill, intact)


# A build from the same inputs writes a damaged copy of its snapshot again.
REBUILD_HINT = "run `recsys pool build --data DIR` to write {folder} again"


def read_snapshot(root: Path, version: str) -> PoolSnapshot:
    """Load a stored snapshot and check it against its content address. A file missing,
    truncated or scribbled raises ``SnapshotError`` naming it and how to remake it."""
    folder = root / version
    hint = REBUILD_HINT.format(folder=folder)
    encoded: list[bytes] = []
    for name in (TRACKS_FILE, ARTISTS_FILE, LABELS_FILE):
        try:
            encoded.append((folder / name).read_bytes())
        except OSError as error:
            raise SnapshotError(
                f"pool snapshot file {folder / name} cannot be read ({error.strerror or error}):"
                f" {hint}"
            ) from error
    track_bytes, artist_bytes, label_bytes = encoded
    if _version_of(track_bytes, artist_bytes, label_bytes) != version:
        names = (TRACKS_FILE, ARTISTS_FILE, LABELS_FILE)
        broken = [str(folder / n) for n, data in zip(names, encoded, strict=True) if _broken(data)]
        what = (
            f"{' and '.join(broken)} damaged or truncated"
            if broken
            else f"a file of {folder} ({', '.join(names)}) damaged"
        )
        raise SnapshotError(
            f"pool snapshot {version} does not match its content address ({what}): {hint}"
        )
    try:
        tracks = {
            t.track_id: t
            for t in (_track_from_record(orjson.loads(line)) for line in track_bytes.splitlines())
        }
        artists = {
            r["artist_id"]: Artist(r["artist_id"], r["name"], r["partner"])
            for r in map(orjson.loads, artist_bytes.splitlines())
        }
        labels = {
            r["label_id"]: Label(r["label_id"], r["name"], r["partner"])
            for r in map(orjson.loads, label_bytes.splitlines())
        }
    except (ValueError, KeyError, TypeError) as error:  # orjson.JSONDecodeError is a ValueError
        raise SnapshotError(
            f"pool snapshot {folder} does not parse ({type(error).__name__}: {error}): {hint}"
        ) from error
    return PoolSnapshot(version, tracks, artists, labels)


def read_label_names(root: Path, version: str) -> dict[str, str]:
    """The label names of a stored snapshot, read alone: a server holding the pool's tracks
    and artists already names a track's label without reading the whole snapshot again.
    ``SnapshotError`` naming the file when it cannot be read or parsed."""
    path = root / version / LABELS_FILE
    try:
        return {r["label_id"]: r["name"] for r in map(orjson.loads, path.read_bytes().splitlines())}
    except OSError as error:
        raise SnapshotError(
            f"pool snapshot file {path} cannot be read ({error.strerror or error}):"
            f" {REBUILD_HINT.format(folder=root / version)}"
        ) from error
    except (ValueError, KeyError, TypeError) as error:
        raise SnapshotError(
            f"pool snapshot file {path} does not parse ({type(error).__name__}: {error}):"
            f" {REBUILD_HINT.format(folder=root / version)}"
        ) from error


def _broken(data: bytes) -> bool:
    """Whether a JSON-lines file is visibly damaged: cut short (no final newline) or holding a
    line that does not parse. Only asked once the content address failed, to name the file."""
    if data and not data.endswith(b"\n"):
        return True
    try:
        for line in data.splitlines():
            orjson.loads(line)
    except orjson.JSONDecodeError:
        return True
    return False


def read_report(root: Path, version: str) -> dict[str, Any]:
    """The report stored beside a snapshot; ``SnapshotError`` naming the file when it is
    missing or damaged."""
    path = root / version / REPORT_FILE
    hint = REBUILD_HINT.format(folder=root / version)
    try:
        report = orjson.loads(path.read_bytes())
    except OSError as error:
        raise SnapshotError(
            f"pool report {path} cannot be read ({error.strerror or error}): {hint}"
        ) from error
    except orjson.JSONDecodeError as error:
        raise SnapshotError(f"pool report {path} is damaged ({error}): {hint}") from error
    if not (
        isinstance(report, dict)
        and isinstance(report.get("summary"), dict)
        and isinstance(report.get("built_at"), str)
    ):
        raise SnapshotError(f"pool report {path} is damaged (no summary or built_at): {hint}")
    return cast(dict[str, Any], report)
