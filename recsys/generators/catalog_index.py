"""Lookups the generators need over the pool, built once per pool and model.

Tracks of each artist (as any credited main artist, featured included) most listened first,
releases by date, recordings by ISRC. Popularity is counted in distinct listeners of the
screened log, so loops and bots cannot buy a place at the top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pool.model import Track
from pool.snapshot import PoolSnapshot


@dataclass(frozen=True)
class CatalogIndex:
    pool_version: str
    tracks: Mapping[str, Track]
    artist_names: Mapping[str, str]
    artist_tracks: Mapping[str, tuple[str, ...]]
    track_listeners: Mapping[str, int]
    artist_listeners: Mapping[str, int]
    releases_by_date: tuple[tuple[date, str, tuple[str, ...]], ...]  # newest first
    artists_by_listeners: tuple[str, ...]  # most listened first (ties by id)

    def isrc_of(self, track_id: str) -> str | None:
        track = self.tracks.get(track_id)
        return None if track is None else track.isrc

    def name(self, artist_id: str) -> str:
        return self.artist_names.get(artist_id, artist_id)

    def releases_since(
        self, first_day: date, today: date
    ) -> list[tuple[date, str, tuple[str, ...]]]:
        """Releases dated within [first_day, today], newest first."""
        return [r for r in self.releases_by_date if first_day <= r[0] <= today]

    def popular_artists(self, count: int) -> list[str]:
        return list(self.artists_by_listeners[:count])


def build_catalog_index(pool: PoolSnapshot, track_listeners: Mapping[str, int]) -> CatalogIndex:
    by_artist: dict[str, list[str]] = {}
    by_release: dict[str, list[str]] = {}
    for track_id, track in pool.tracks.items():
        for artist in track.artist_ids:
            by_artist.setdefault(artist, []).append(track_id)
        by_release.setdefault(track.release_id, []).append(track_id)

    def rank(track_id: str) -> tuple[int, str]:
        return (-track_listeners.get(track_id, 0), track_id)

    artist_tracks = {a: tuple(sorted(ts, key=rank)) for a, ts in by_artist.items()}
    artist_listeners = {
        a: sum(track_listeners.get(t, 0) for t in ts) for a, ts in artist_tracks.items()
    }
    releases = sorted(
        (
            (pool.tracks[ts[0]].release_date, release_id, tuple(sorted(ts, key=rank)))
            for release_id, ts in by_release.items()
        ),
        key=lambda r: (r[0], r[1]),
        reverse=True,
    )
    return CatalogIndex(
        pool_version=pool.version,
        tracks=pool.tracks,
        artist_names={a: artist.name for a, artist in pool.artists.items()},
        artist_tracks=artist_tracks,
        track_listeners=dict(track_listeners),
        artist_listeners=artist_listeners,
        releases_by_date=tuple(releases),
        artists_by_listeners=tuple(
            sorted(artist_tracks, key=lambda a: (-artist_listeners.get(a, 0), a))
        ),
    )
