"""External ids: short opaque strings such as ``ar000123`` or ``u0000042``.

An entity's id is its prefix and its (randomly permuted) code, zero-padded to a width fixed
per world: wide enough for the largest code, never narrower than the house default, so ids
stay fixed-width within a world and sort the same as strings and as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from recsys.world.arrays import ByteMatrix, IntArray, as_int
from recsys.world.encoding import matrix_to_strings, prefixed_ids
from recsys.world.synthetic_catalog import Catalog


@dataclass(frozen=True, slots=True)
class IdScheme:
    """How one kind of entity's codes become ids."""

    prefix: str
    width: int

    @classmethod
    def sized(cls, prefix: str, largest_code: int, min_width: int) -> IdScheme:
        """A scheme wide enough for codes up to `largest_code`."""
        return cls(prefix=prefix, width=max(min_width, len(str(largest_code))))

    def matrix(self, codes: IntArray) -> ByteMatrix:
        """Ids as a fixed-width byte matrix, for the CSV encoder."""
        return prefixed_ids(self.prefix, codes, self.width)

    def strings(self, codes: IntArray) -> list[str]:
        """Ids as Python strings."""
        return matrix_to_strings(self.matrix(codes))


@dataclass(frozen=True, slots=True)
class WorldIds:
    """Every entity's external id, indexed like the catalogue's arrays."""

    partner: tuple[str, ...]
    label: tuple[str, ...]
    artist: tuple[str, ...]
    release: tuple[str, ...]
    track: tuple[str, ...]
    track_table: ByteMatrix  # track ids as a byte matrix, for the listens encoder
    track_scheme: IdScheme
    user_scheme: IdScheme
    artist_scheme: IdScheme

    def users(self, user_indices: IntArray) -> list[str]:
        """Ids of users given by index (user index i has code i + 1)."""
        return self.user_scheme.strings(as_int(user_indices + 1))


def assign_ids(catalog: Catalog, users: int) -> WorldIds:
    """Attach ids to every catalogue entity; users are numbered in order from 1."""
    partner = IdScheme.sized("pt", len(catalog.partner_code), 3)
    label = IdScheme.sized("lb", len(catalog.label_code), 4)
    artist = IdScheme.sized("ar", catalog.artists, 6)
    release = IdScheme.sized("rl", len(catalog.release_code), 5)
    track = IdScheme.sized("tr", catalog.tracks, 7)
    track_table = track.matrix(catalog.track_code)
    return WorldIds(
        partner=tuple(partner.strings(catalog.partner_code)),
        label=tuple(label.strings(catalog.label_code)),
        artist=tuple(artist.strings(catalog.artist_code)),
        release=tuple(release.strings(catalog.release_code)),
        track=tuple(matrix_to_strings(track_table)),
        track_table=track_table,
        track_scheme=track,
        user_scheme=IdScheme.sized("u", users, 7),
        artist_scheme=artist,
    )
