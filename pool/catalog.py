"""The catalog as partners delivered it: artists, labels and tracks, with the rows refused.

Duplicate ids fail closed: when two rows claim the same id we cannot tell which metadata is
true, so neither is admitted. A track that names an artist or label the catalog lacks is
refused too, since nobody could have verified it. A catalog in which no track survives is
refused as a whole (``DataDirectoryError``), so the previous pool stays current.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pool.errors import DataDirectoryError
from pool.feeds import (
    Parsed,
    parse_artist,
    parse_jsonl_lines,
    parse_label,
    parse_track,
    read_jsonl,
)
from pool.model import Artist, FeedIssue, Label, Track

ARTISTS_FILE = "catalog/artists.jsonl"
LABELS_FILE = "catalog/labels.jsonl"
TRACKS_FILE = "catalog/tracks.jsonl"


@dataclass(frozen=True, slots=True)
class Catalog:
    artists: dict[str, Artist]
    labels: dict[str, Label]
    tracks: dict[str, Track]
    issues: tuple[FeedIssue, ...]


R = TypeVar("R")


def _unique_by_id(
    rows: Iterable[Parsed[R]], key: Callable[[R], str], label: str, issues: list[FeedIssue]
) -> dict[str, R]:
    """Keep rows whose id occurs once; every line of a repeated id becomes an issue."""
    first: dict[str, tuple[int, R]] = {}
    repeated: dict[str, list[int]] = {}
    for item in rows:
        if isinstance(item, FeedIssue):
            issues.append(item)
            continue
        number, value = item
        ident = key(value)
        if ident in first:
            repeated.setdefault(ident, [first[ident][0]]).append(number)
        else:
            first[ident] = (number, value)
    for ident, lines in repeated.items():
        del first[ident]
        for number in lines:
            issues.append(
                FeedIssue(label, number, f"duplicate id {ident!r} (lines {lines})", "duplicate_id")
            )
    return {ident: value for ident, (_, value) in first.items()}


def _references(
    tracks: Iterator[Parsed[Track]],
    artists: dict[str, Artist],
    labels: dict[str, Label],
) -> Iterator[Parsed[Track]]:
    for item in tracks:
        if isinstance(item, FeedIssue):
            yield item
            continue
        number, track = item
        unknown = [a for a in track.artist_ids if a not in artists]
        if unknown:
            reason = f"field 'artist_ids': unknown artist(s) {', '.join(unknown)}"
            yield FeedIssue(TRACKS_FILE, number, reason, "unknown_artist")
        elif track.label_id not in labels:
            reason = f"field 'label_id': unknown label {track.label_id}"
            yield FeedIssue(TRACKS_FILE, number, reason, "unknown_label")
        else:
            yield item


PARALLEL_MIN_BYTES = 32 << 20


def _parse_track_range(job: tuple[Path, int, int, int]) -> list[Parsed[Track]]:
    path, start, stop, first_line = job
    with path.open("rb") as handle:
        handle.seek(start)
        lines = handle.read(stop - start).splitlines(keepends=True)
    return list(parse_jsonl_lines(lines, first_line, TRACKS_FILE, parse_track))


def _parsed_tracks(path: Path) -> Iterator[Parsed[Track]]:
    """The tracks feed, parsed on every core when it is large: the file is cut at line ends
    into one range per process, each range keeps its line numbers, results come in order."""
    size = path.stat().st_size
    workers = os.cpu_count() or 1
    if size < PARALLEL_MIN_BYTES or workers < 2:
        yield from read_jsonl(path, TRACKS_FILE, parse_track)
        return
    jobs: list[tuple[Path, int, int, int]] = []
    with path.open("rb") as handle:
        start, line = 0, 1
        for part in range(1, workers * 4 + 1):
            target = size * part // (workers * 4)
            handle.seek(target)
            handle.readline()  # move to the next line end
            stop = size if part == workers * 4 else min(handle.tell(), size)
            if stop <= start:
                continue
            handle.seek(start)
            jobs.append((path, start, stop, line))
            line += handle.read(stop - start).count(b"\n")
            start = stop
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for parsed in pool.imap(_parse_track_range, jobs):
            yield from parsed


def _required(data_dir: Path, relative: str) -> Path:
    path = data_dir / relative
    if not path.is_file():
        raise DataDirectoryError(f"{data_dir}: required file {relative} is missing")
    return path


def read_catalog(data_dir: Path) -> Catalog:
    """Read and validate the three catalog feeds of a data directory."""
    if not data_dir.is_dir():
        raise DataDirectoryError(f"{data_dir}: no such data directory")
    paths = [_required(data_dir, name) for name in (ARTISTS_FILE, LABELS_FILE, TRACKS_FILE)]
    issues: list[FeedIssue] = []
    try:
        artists = _unique_by_id(
            read_jsonl(paths[0], ARTISTS_FILE, parse_artist),
            lambda a: a.artist_id,
            ARTISTS_FILE,
            issues,
        )
        labels = _unique_by_id(
            read_jsonl(paths[1], LABELS_FILE, parse_label),
            lambda x: x.label_id,
            LABELS_FILE,
            issues,
        )
        tracks = _unique_by_id(
            _references(_parsed_tracks(paths[2]), artists, labels),
            lambda t: t.track_id,
            TRACKS_FILE,
            issues,
        )
    except OSError as error:
        raise DataDirectoryError(f"{data_dir}: cannot read the catalog ({error})") from error
    if not tracks:
        # A catalog of refused rows is a broken delivery, not an empty one: publishing its
        # empty pool would empty every served mix at the next read.
        refused = f" ({len(issues)} rows refused; first: {issues[0]})" if issues else ""
        raise DataDirectoryError(f"{data_dir}: the catalog holds no valid track{refused}")
    return Catalog(artists, labels, tracks, tuple(issues))
