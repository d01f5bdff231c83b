"""Artist names and track titles for the answers curators read, and the staff's unknown ids.

Curators read links, similar artists and the review queue by id; a name beside each id makes
a typo or a wrong artist visible at a glance. Names come from the current pool snapshot only:
an id the pool does not hold (an artist not verified, a track refused or not yet delivered)
answers ``None`` instead of an error, because these are read answers and an unknown id is a
fact worth showing, not a reason to fail.

``unknown_track`` is the other half: a curator's decision on a track no delivery and no flag
names is almost certainly a typo, and recording it would leave a silent dead entry in the
state and the audit trail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from pool.importer import SNAPSHOT_DIR, current_pool_version, load_current_pool
from pool.model import Track, TrustKind
from pool.snapshot import PoolSnapshot, read_label_names, read_report
from pool.state import track_has_ai_record, trust_row


@dataclass(frozen=True, slots=True)
class PoolNames:
    """The names one pool knows: artists' names, tracks (with their titles) and labels'."""

    artist_names: Mapping[str, str] = field(default_factory=dict)
    tracks: Mapping[str, Track] = field(default_factory=dict)
    label_names: Mapping[str, str] = field(default_factory=dict)
    # Refused tracks an AI verdict holds, as the pool report describes them (``held_tracks``):
    # what the review queue mostly holds, and the snapshot does not.
    held: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def artist(self, artist_id: str) -> dict[str, Any]:
        return {"artist_id": artist_id, "name": self.artist_names.get(artist_id)}

    def link(self, link: Mapping[str, Any]) -> dict[str, Any]:
        """A link's dict with both artists' names added; every existing field kept as is."""
        return {
            **link,
            "artist_a_name": self.artist_names.get(link["artist_a"]),
            "artist_b_name": self.artist_names.get(link["artist_b"]),
        }

    def track(self, track_id: str) -> dict[str, Any]:
        """What a curator needs to recognise a track: title, artists, label and partner;
        ``None`` (and no artists) for what the pool does not know."""
        track = self.tracks.get(track_id)
        if track is None:
            held = self.held.get(track_id)
            if held is not None:
                return {k: held.get(k) for k in ("title", "artists", "label", "partner")}
            return {"title": None, "artists": [], "label": None, "partner": None}
        return {
            "title": track.title,
            "artists": [self.artist(a) for a in track.artist_ids],
            "label": {"label_id": track.label_id, "name": self.label_names.get(track.label_id)},
            "partner": track.partner,
        }

    def queue_entry(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """A review-queue entry with the track's names after its existing fields."""
        return {**entry, **self.track(entry["track_id"])}


NO_NAMES = PoolNames()


def names_of(pool: PoolSnapshot, held: Mapping[str, Mapping[str, Any]] | None = None) -> PoolNames:
    return PoolNames(
        artist_names={a: artist.name for a, artist in pool.artists.items()},
        tracks=pool.tracks,
        label_names={x: label.name for x, label in pool.labels.items()},
        held=held or {},
    )


def held_tracks(state_dir: Path, version: str) -> dict[str, dict[str, Any]]:
    """The pool report's held tracks (``pool.builder.PoolReport.held_tracks``); none for a
    report written before it kept them."""
    return dict(read_report(state_dir / SNAPSHOT_DIR, version).get("held_tracks", {}))


@lru_cache(maxsize=4)
def pool_held_tracks(state_dir: Path, pool_version: str) -> dict[str, dict[str, Any]]:
    """A pool's held tracks (flagged and refused), from its report, read once per version."""
    return held_tracks(state_dir, pool_version)


@lru_cache(maxsize=4)
def pool_label_names(state_dir: Path, pool_version: str) -> dict[str, str]:
    """A pool's label names, read once per version: a snapshot never changes under its
    content address, and the live engine keeps tracks and artists but not labels."""
    return read_label_names(state_dir / SNAPSHOT_DIR, pool_version)


def current_pool_tracks(conn: sqlite3.Connection, state_dir: Path) -> Mapping[str, Track]:
    """The current pool's tracks (none before the first build), for ``unknown_track``:
    without the names and the report's held tracks ``current_pool_names`` also reads."""
    if current_pool_version(conn) is None:
        return {}
    return load_current_pool(conn, state_dir).tracks


def current_pool_names(conn: sqlite3.Connection, state_dir: Path) -> PoolNames:
    """The current pool's names; none at all before the first pool build (a read answer
    still answers then, every name ``None``)."""
    version = current_pool_version(conn)
    if version is None:
        return NO_NAMES
    # A damaged snapshot raises: it is reported, never shown as "no names".
    return names_of(load_current_pool(conn, state_dir), held_tracks(state_dir, version))


@lru_cache(maxsize=4)
def pool_delivered_ids(state_dir: Path, pool_version: str) -> dict[str, frozenset[str]]:
    """The artist, label and partner ids the catalogue delivery of a pool's build named
    (none for a report written before it kept them)."""
    delivered = read_report(state_dir / SNAPSHOT_DIR, pool_version).get("delivered", {})
    return {kind: frozenset(ids) for kind, ids in delivered.items()}


def unknown_trust_subject(
    conn: sqlite3.Connection, state_dir: Path, kind: str, subject: str
) -> str | None:
    """Why a grant of trust to ``subject`` looks like a typo, or ``None`` when the engine
    knows the id: the registry already names it, or the catalogue delivery the current pool
    was built from does. Staff may still grant an id ahead of its first delivery, saying so
    (the CLI's ``--ahead-of-delivery``, the console's box): the registry may come first."""
    if trust_row(conn, cast(TrustKind, kind), subject) is not None:
        return None
    version = current_pool_version(conn)
    if version is not None and subject in pool_delivered_ids(state_dir, version).get(kind, ()):
        return None
    return (
        f"unknown {kind}: {subject} is in no catalogue delivery the current pool was built from"
        " and not in the registry (a typo?)"
    )


def unknown_track(
    conn: sqlite3.Connection, state_dir: Path, track_id: str, pool_tracks: Mapping[str, Track]
) -> str | None:
    """Why a staff decision on ``track_id`` is refused, or ``None`` when the engine knows it.

    Known: a track of the current pool, one its build refused (a track the detector's review
    band withholds is refused by the build, and is exactly what a curator reviews), or one a
    flag, review or review request already names (a flag may name a track before its feed
    arrives). Checked cheapest first: the catalogue's refused tracks are read last, from the
    pool report, only for an id nothing else knows."""
    if track_id in pool_tracks or track_has_ai_record(conn, track_id):
        return None
    version = current_pool_version(conn)
    if version is not None:
        report = read_report(state_dir / SNAPSHOT_DIR, version)
        if track_id in report.get("rejected_tracks", {}):
            return None
    return (
        f"unknown track: {track_id} is not in the current pool (nor among the catalogue"
        " tracks its build refused) and no flag names it"
    )
