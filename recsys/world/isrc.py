"""ISRCs: one 12-character code per recording, shared by two track ids when the same recording
is released twice (a single that reappears on the album).

Layout per ISO 3901: country (2 letters), registrant (3 alphanumerics, one per label here),
year of reference (2 digits), designation (5 digits).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from recsys.world.arrays import IntArray, as_int
from recsys.world.codes import RELEASE_SINGLE
from recsys.world.encoding import matrix_to_strings, text_matrix, zero_padded_digits
from recsys.world.word_lists import COUNTRY_CODES

ISRC_DESIGNATIONS = 99_999
REGISTRANT_CODES = 36**3


def assign_isrcs(
    track_label: IntArray, track_day: IntArray, labels: int, today: int, rng: np.random.Generator
) -> list[str]:
    """ISRC = country + label's registrant code + year of release + 5-digit designation,
    unique per track (a label overflowing 99,999 designations a year gets another code)."""
    if labels > REGISTRANT_CODES // 2:
        raise ValueError("too many labels for distinct ISRC registrant codes")
    codes = as_int(rng.choice(REGISTRANT_CODES, size=labels, replace=False))
    countries = as_int(rng.integers(0, len(COUNTRY_CODES), labels))
    tracks = len(track_label)
    if tracks == 0:
        return []
    first_day = int(track_day.min())
    years = as_int([date.fromordinal(d).year % 100 for d in range(first_day, today + 1)])
    year = years[track_day - first_day]
    key = track_label * 100 + year
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    boundary = np.ones(tracks, dtype=bool)
    boundary[1:] = sorted_key[1:] != sorted_key[:-1]
    starts = np.flatnonzero(boundary)
    rank_sorted = np.arange(tracks) - np.repeat(starts, np.diff(np.append(starts, tracks)))
    rank = np.empty(tracks, dtype=np.int64)
    rank[order] = rank_sorted
    overflow = rank // ISRC_DESIGNATIONS
    registrant = codes[track_label]
    if overflow.any():
        spare = np.setdiff1d(np.arange(REGISTRANT_CODES), codes)
        over = overflow > 0
        extra, which = np.unique(track_label[over] * 100_000 + overflow[over], return_inverse=True)
        if len(extra) > len(spare):
            raise ValueError("ran out of ISRC registrant codes")
        registrant[over] = spare[which]
    alphabet = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
    country_table = text_matrix(COUNTRY_CODES, 2)
    matrix = np.concatenate(
        (
            country_table[countries[track_label]],
            alphabet[registrant // 1296][:, None],
            alphabet[registrant // 36 % 36][:, None],
            alphabet[registrant % 36][:, None],
            zero_padded_digits(year, 2),
            zero_padded_digits(rank % ISRC_DESIGNATIONS + 1, 5),
        ),
        axis=1,
    )
    return matrix_to_strings(matrix)


def make_versions(
    *,
    genuine_artists: int,
    release_artist: IntArray,
    release_kind: IntArray,
    release_day: IntArray,
    release_sizes: IntArray,
    isrc: list[str],
    titles: list[str],
    duration: IntArray,
    rng: np.random.Generator,
) -> tuple[tuple[int, int], ...]:
    """For ~2 % of genuine artists, the lead single reappears on a later EP or album: a second
    track id with the same recording (ISRC, title, duration). Mutates the given lists."""
    wanted = max(1, round(genuine_artists * 0.02))
    release_start = np.concatenate(([0], np.cumsum(release_sizes)))
    artist_releases = np.concatenate(
        ([0], np.cumsum(np.bincount(release_artist, minlength=genuine_artists)))
    )
    pairs: list[tuple[int, int]] = []
    for artist in rng.permutation(genuine_artists).tolist():
        if len(pairs) >= wanted:
            break
        first, last = int(artist_releases[artist]), int(artist_releases[artist + 1])
        kinds = release_kind[first:last]
        singles = [first + i for i in np.flatnonzero(kinds == RELEASE_SINGLE).tolist()]
        longer = [first + i for i in np.flatnonzero(kinds != RELEASE_SINGLE).tolist()]
        matches = [(s, r) for s in singles for r in longer if release_day[s] <= release_day[r]]
        if not matches:
            continue
        single, album = matches[int(rng.integers(0, len(matches)))]
        source = int(release_start[single])
        target = int(release_start[album] + rng.integers(0, release_sizes[album]))
        isrc[target] = isrc[source]
        titles[target] = titles[source]
        duration[target] = duration[source]
        pairs.append((source, target))
    return tuple(pairs)
