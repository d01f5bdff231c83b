"""The catalogue of a synthetic world: scenes, partners, labels, artists, releases and tracks.

Genuine artists get a power-law popularity, a primary scene and releases over the two years
before `today`; AI spam farms get many unverified "artists" on one untrusted distributor and
label, with thousands of short, recent tracks. Entities are dense indices into parallel arrays:
genuine artists come first (0..artists-1), farm artists after them, and likewise for tracks.
The external id numbers (``artist_code``) are a random permutation, so ids reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.world.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    SegmentedSampler,
    as_int,
    random_ranks_within_groups,
    zipf_weights,
)
from recsys.world.codes import RELEASE_ALBUM, RELEASE_EP, RELEASE_SINGLE
from recsys.world.config import WorldConfig, WorldSizes
from recsys.world.isrc import assign_isrcs, make_versions
from recsys.world.names import (
    artist_names,
    draw_release_tags,
    draw_titles,
    farm_artist_names,
    label_names,
)
from recsys.world.scenes import Scene, choose_scenes
from recsys.world.word_lists import (
    FARM_NAME_NOUNS,
    FARM_NAME_WORDS,
    FARM_PARTNER_NAMES,
    PARTNER_NAMES,
)

CATALOG_DAYS = 730  # genuine releases spread over the two years before today
FARM_DAYS = 180  # spam is recent: farms upload over the last six months
RECENT_DAYS = 14  # the Release Radar window
FARM_TRACKS_PER_ARTIST = 32.0  # expected tracks per farm artist given the release mix below


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every catalogue entity as parallel arrays. ``*_farm`` is the owning farm or -1."""

    today_ordinal: int
    scenes: tuple[Scene, ...]
    partner_code: IntArray
    partner_name: tuple[str, ...]
    partner_trusted: BoolArray
    partner_farm: IntArray
    label_code: IntArray
    label_name: tuple[str, ...]
    label_partner: IntArray
    label_trusted: BoolArray
    label_farm: IntArray
    genuine_artists: int
    artist_code: IntArray
    artist_name: tuple[str, ...]
    artist_label: IntArray
    artist_partner: IntArray
    artist_scene: IntArray
    artist_verified: BoolArray
    artist_farm: IntArray
    artist_weight: FloatArray
    artist_rank: IntArray
    release_code: IntArray
    release_artist: IntArray
    release_label: IntArray
    release_day: IntArray
    release_kind: IntArray
    release_title: tuple[str, ...]
    genuine_tracks: int
    track_code: IntArray
    track_release: IntArray
    track_artist: IntArray
    track_label: IntArray
    track_partner: IntArray
    track_day: IntArray
    track_duration_ms: IntArray
    track_weight: FloatArray
    track_farm: IntArray
    track_title: tuple[str, ...]
    track_tags: tuple[tuple[str, ...], ...]
    track_isrc: tuple[str, ...]
    featured_ptr: IntArray
    featured_artist: IntArray
    version_pairs: tuple[tuple[int, int], ...]

    @property
    def tracks(self) -> int:
        """Number of tracks, farm tracks included."""
        return len(self.track_code)

    @property
    def artists(self) -> int:
        """Number of catalogue artists, farm artists included."""
        return len(self.artist_code)

    @property
    def farms(self) -> int:
        """Number of AI spam farms."""
        return int(self.partner_farm.max()) + 1 if len(self.partner_farm) else 0

    def all_main_artists_verified(self) -> BoolArray:
        """Per track: are the primary and every featured artist verified?"""
        verified = self.artist_verified[self.track_artist].copy()
        counts = np.diff(self.featured_ptr)
        owners = np.repeat(np.arange(self.tracks, dtype=np.int64), counts)
        unverified_featured = owners[~self.artist_verified[self.featured_artist]]
        verified[unverified_featured] = False
        return verified


def build_catalog(config: WorldConfig, sizes: WorldSizes, rng: np.random.Generator) -> Catalog:
    """Draw the whole catalogue. Order of draws is fixed, so a seed fixes the catalogue."""
    today = config.today.toordinal()
    scenes = choose_scenes(sizes.scenes, rng)
    partners = _build_partners(sizes, rng)
    labels = _build_labels(config, sizes, partners.trusted, rng)
    artists = _build_genuine_artists(config, sizes, labels, rng)
    genuine_releases = _build_genuine_releases(artists, labels, today, rng)
    genuine_tracks = int(genuine_releases.sizes.sum())
    farm_target = 0
    if sizes.farms > 0:
        share = config.farm_track_share
        farm_target = round(genuine_tracks * share / (1.0 - share))
    farm_artists = _plan_farm_artists(sizes.farms, farm_target, rng)
    farm_releases = _build_farm_releases(
        farm_artists, config.artists, labels.farm_label_of, today, rng
    )

    release_artist = np.concatenate((genuine_releases.artist, farm_releases.artist))
    release_label = np.concatenate((genuine_releases.label, farm_releases.label))
    release_day = np.concatenate((genuine_releases.day, farm_releases.day))
    release_kind = np.concatenate((genuine_releases.kind, farm_releases.kind))
    release_sizes = np.concatenate((genuine_releases.sizes, farm_releases.sizes))
    releases = len(release_artist)

    artist_count = config.artists + len(farm_artists)
    artist_farm = np.concatenate((np.full(config.artists, -1, dtype=np.int64), farm_artists))
    artist_label = np.concatenate((artists.label, labels.farm_label_of[farm_artists]))
    artist_partner = labels.partner[artist_label]
    artist_scene = np.concatenate((artists.scene, np.full(len(farm_artists), -1, np.int64)))
    artist_verified = np.concatenate((artists.verified, np.zeros(len(farm_artists), bool)))
    artist_weight = np.concatenate((artists.weight, np.zeros(len(farm_artists))))
    artist_rank = np.concatenate((artists.rank, np.full(len(farm_artists), -1, np.int64)))

    track_release = np.repeat(np.arange(releases, dtype=np.int64), release_sizes)
    track_artist = release_artist[track_release]
    track_label = release_label[track_release]
    track_partner = labels.partner[track_label]
    track_day = release_day[track_release]
    track_farm = artist_farm[track_artist]
    tracks = len(track_release)
    is_genuine_track = track_farm < 0

    scene_medians = np.array([scene.median_duration_s for scene in scenes], dtype=np.float64)
    duration = np.empty(tracks, dtype=np.int64)
    genuine_scene = artist_scene[track_artist[is_genuine_track]]
    duration[is_genuine_track] = np.clip(
        scene_medians[genuine_scene] * 1000.0 * np.exp(rng.normal(0.0, 0.28, genuine_tracks))
        + rng.integers(0, 1000, genuine_tracks),
        45_000,
        1_200_000,
    ).astype(np.int64)
    duration[~is_genuine_track] = rng.integers(31_000, 96_000, tracks - genuine_tracks)

    track_rank = random_ranks_within_groups(as_int(track_artist), rng)
    track_weight = zipf_weights(track_rank, 1.1)

    featured_ptr, featured_artist = _draw_featured(
        genuine_tracks, tracks, as_int(track_artist), artists, rng
    )
    release_titles, track_titles = draw_titles(
        as_int(release_kind), as_int(release_artist), as_int(artist_farm), release_sizes, rng
    )
    release_tags = draw_release_tags(scenes, as_int(artist_scene[release_artist]), releases, rng)
    track_tags = [release_tags[r] for r in track_release.tolist()]
    isrc = assign_isrcs(as_int(track_label), as_int(track_day), len(labels.partner), today, rng)
    version_pairs = make_versions(
        genuine_artists=config.artists,
        release_artist=as_int(release_artist),
        release_kind=as_int(release_kind),
        release_day=as_int(release_day),
        release_sizes=release_sizes,
        isrc=isrc,
        titles=track_titles,
        duration=duration,
        rng=rng,
    )

    return Catalog(
        today_ordinal=today,
        scenes=scenes,
        partner_code=as_int(rng.permutation(len(partners.trusted)) + 1),
        partner_name=partners.names,
        partner_trusted=partners.trusted,
        partner_farm=partners.farm,
        label_code=as_int(rng.permutation(len(labels.partner)) + 1),
        label_name=labels.names,
        label_partner=labels.partner,
        label_trusted=labels.trusted,
        label_farm=labels.farm,
        genuine_artists=config.artists,
        artist_code=as_int(rng.permutation(artist_count) + 1),
        artist_name=(*artists.names, *farm_artist_names(len(farm_artists), rng)),
        artist_label=as_int(artist_label),
        artist_partner=as_int(artist_partner),
        artist_scene=as_int(artist_scene),
        artist_verified=artist_verified,
        artist_farm=as_int(artist_farm),
        artist_weight=np.asarray(artist_weight, dtype=np.float64),
        artist_rank=as_int(artist_rank),
        release_code=as_int(rng.permutation(releases) + 1),
        release_artist=as_int(release_artist),
        release_label=as_int(release_label),
        release_day=as_int(release_day),
        release_kind=as_int(release_kind),
        release_title=tuple(release_titles),
        genuine_tracks=genuine_tracks,
        track_code=as_int(rng.permutation(tracks) + 1),
        track_release=track_release,
        track_artist=as_int(track_artist),
        track_label=as_int(track_label),
        track_partner=as_int(track_partner),
        track_day=as_int(track_day),
        track_duration_ms=duration,
        track_weight=track_weight,
        track_farm=as_int(track_farm),
        track_title=tuple(track_titles),
        track_tags=tuple(track_tags),
        track_isrc=tuple(isrc),
        featured_ptr=featured_ptr,
        featured_artist=featured_artist,
        version_pairs=version_pairs,
    )


@dataclass(frozen=True, slots=True)
class _Partners:
    names: tuple[str, ...]
    trusted: BoolArray
    farm: IntArray


def _numbered(base: tuple[str, ...], index: int) -> str:
    """A name from a short list, numbered once the list runs out."""
    name = base[index % len(base)]
    return name if index < len(base) else f"{name} {index // len(base) + 1}"


def _build_partners(sizes: WorldSizes, rng: np.random.Generator) -> _Partners:
    """Genuine distributors first (0 is the biggest and always trusted), then one untrusted
    distributor per spam farm."""
    genuine = sizes.genuine_partners
    trusted = np.ones(genuine + sizes.farms, dtype=bool)
    # The platform has not trusted some of the smaller distributors (the lower half by size).
    untrusted = rng.choice(
        np.arange(genuine // 2, genuine),
        size=min(sizes.untrusted_genuine_partners, genuine - genuine // 2),
        replace=False,
    )
    trusted[untrusted] = False
    trusted[genuine:] = False
    names = [_numbered(PARTNER_NAMES, i) for i in range(genuine)]
    names += [_numbered(FARM_PARTNER_NAMES, i) for i in range(sizes.farms)]
    farm = np.concatenate((np.full(genuine, -1, np.int64), np.arange(sizes.farms)))
    return _Partners(names=tuple(names), trusted=trusted, farm=as_int(farm))


@dataclass(frozen=True, slots=True)
class _Labels:
    names: tuple[str, ...]
    partner: IntArray
    trusted: BoolArray
    farm: IntArray
    genuine: int
    rank: IntArray  # size rank of each genuine label (0 = biggest)
    farm_label_of: IntArray  # farm index -> label index


def _build_labels(
    config: WorldConfig, sizes: WorldSizes, partner_trusted: BoolArray, rng: np.random.Generator
) -> _Labels:
    """Genuine labels spread over genuine distributors by a power law (a few big aggregators);
    one untrusted label per farm on that farm's distributor."""
    genuine = sizes.genuine_labels
    # Label sizes follow `rank`. Big labels distribute through trusted distributors; the
    # untrusted labels are among the smaller 70 %.
    rank = as_int(rng.permutation(genuine))
    big = rank < int(0.3 * genuine)
    partner_weights = zipf_weights(as_int(np.arange(sizes.genuine_partners)), 0.8)
    partner = as_int(
        rng.choice(sizes.genuine_partners, size=genuine, p=partner_weights / partner_weights.sum())
    )
    trusted_weights = np.where(partner_trusted[: sizes.genuine_partners], partner_weights, 0.0)
    partner[big] = rng.choice(
        sizes.genuine_partners, size=int(big.sum()), p=trusted_weights / trusted_weights.sum()
    )
    trusted = np.ones(genuine + sizes.farms, dtype=bool)
    untrusted_count = max(1, round(genuine * config.untrusted_label_share))
    smaller = np.flatnonzero(~big)
    trusted[rng.choice(smaller, size=min(untrusted_count, len(smaller)), replace=False)] = False
    trusted[genuine:] = False
    farm_partner = np.arange(sizes.genuine_partners, sizes.genuine_partners + sizes.farms)
    names = label_names(genuine, rng) + [
        f"{FARM_NAME_WORDS[int(w)]} {FARM_NAME_NOUNS[int(n)]} Network"
        for w, n in zip(
            rng.integers(0, len(FARM_NAME_WORDS), sizes.farms),
            rng.integers(0, len(FARM_NAME_NOUNS), sizes.farms),
            strict=True,
        )
    ]
    farm = np.concatenate((np.full(genuine, -1, np.int64), np.arange(sizes.farms)))
    return _Labels(
        names=tuple(names),
        partner=as_int(np.concatenate((partner, farm_partner))),
        trusted=trusted,
        farm=as_int(farm),
        genuine=genuine,
        rank=rank,
        farm_label_of=as_int(np.arange(genuine, genuine + sizes.farms)),
    )


@dataclass(frozen=True, slots=True)
class _GenuineArtists:
    names: tuple[str, ...]
    label: IntArray
    scene: IntArray
    verified: BoolArray
    weight: FloatArray
    rank: IntArray
    scene_sampler: SegmentedSampler
    global_sampler: SegmentedSampler


def _build_genuine_artists(
    config: WorldConfig, sizes: WorldSizes, labels: _Labels, rng: np.random.Generator
) -> _GenuineArtists:
    """Zipf popularity (exponent 1), scenes of power-law size, labels of power-law size;
    unverified artists are drawn from the less popular 60 %."""
    count = config.artists
    rank = as_int(rng.permutation(count))
    weight = zipf_weights(rank, 1.0)
    label_weights = zipf_weights(labels.rank, 0.9)
    label = as_int(rng.choice(labels.genuine, size=count, p=label_weights / label_weights.sum()))
    scene_weights = zipf_weights(as_int(rng.permutation(sizes.scenes)), 0.6)
    scene = as_int(rng.choice(sizes.scenes, size=count, p=scene_weights / scene_weights.sum()))
    scene[: sizes.scenes] = np.arange(sizes.scenes)  # no scene is empty
    verified = np.ones(count, dtype=bool)
    tail = np.flatnonzero(rank >= int(0.4 * count))
    unverified = max(1, round(count * config.unverified_artist_share))
    verified[rng.choice(tail, size=min(unverified, len(tail)), replace=False)] = False
    return _GenuineArtists(
        names=tuple(artist_names(count, rng)),
        label=label,
        scene=scene,
        verified=verified,
        weight=weight,
        rank=rank,
        scene_sampler=SegmentedSampler.build(scene, weight, sizes.scenes),
        global_sampler=SegmentedSampler.build(as_int(np.zeros(count)), weight, 1),
    )


@dataclass(frozen=True, slots=True)
class _Releases:
    artist: IntArray
    label: IntArray
    day: IntArray
    kind: IntArray
    sizes: IntArray


def _build_genuine_releases(
    artists: _GenuineArtists, labels: _Labels, today: int, rng: np.random.Generator
) -> _Releases:
    """Singles, EPs and albums: about 10 tracks per artist on average, more releases for the
    top 10 %, dates over two years with a boost in the Release Radar window."""
    count = len(artists.rank)
    per_artist = 1 + rng.poisson(1.1, count)
    top = artists.rank < max(1, count // 10)
    per_artist[top] += rng.integers(0, 3, int(top.sum()))
    artist = as_int(np.repeat(np.arange(count), per_artist))
    releases = len(artist)
    kind = as_int(rng.choice(3, size=releases, p=[0.45, 0.30, 0.25]))
    sizes = np.where(
        kind == RELEASE_SINGLE,
        1 + (rng.random(releases) < 0.25),
        np.where(kind == RELEASE_EP, rng.integers(3, 7, releases), rng.integers(8, 15, releases)),
    )
    day = today - rng.integers(1, CATALOG_DAYS + 1, releases)
    recent = rng.random(releases) < 0.03
    day[recent] = today - rng.integers(1, RECENT_DAYS + 1, int(recent.sum()))
    label = artists.label[artist].copy()
    moved = rng.random(releases) < 0.06  # licensed to another label
    label[moved] = rng.integers(0, labels.genuine, int(moved.sum()))
    return _Releases(
        artist=artist, label=as_int(label), day=as_int(day), kind=kind, sizes=as_int(sizes)
    )


def _plan_farm_artists(farms: int, target_tracks: int, rng: np.random.Generator) -> IntArray:
    """Farm index for each farm artist, sized so farm tracks approach `target_tracks`."""
    if target_tracks == 0 or farms == 0:
        return as_int(np.zeros(0))
    shares = rng.dirichlet(np.full(farms, 3.0))
    per_farm = np.maximum(1, np.round(shares * target_tracks / FARM_TRACKS_PER_ARTIST))
    return as_int(np.repeat(np.arange(farms), per_farm.astype(np.int64)))


def _build_farm_releases(
    farm_artists: IntArray,
    first_artist: int,
    farm_label_of: IntArray,
    today: int,
    rng: np.random.Generator,
) -> _Releases:
    """Spam farms upload singles and long "compilations" of short tracks, all within the last
    six months and a quarter of them in the Release Radar window (that is what they game)."""
    count = len(farm_artists)
    per_artist = 1 + rng.poisson(4.0, count)
    artist = as_int(np.repeat(np.arange(count), per_artist))
    releases = len(artist)
    album = rng.random(releases) < 0.45
    kind = as_int(np.where(album, RELEASE_ALBUM, RELEASE_SINGLE))
    release_sizes = np.where(album, rng.integers(6, 21, releases), 1)
    day = today - rng.integers(1, FARM_DAYS + 1, releases)
    recent = rng.random(releases) < 0.25
    day[recent] = today - rng.integers(1, RECENT_DAYS + 1, int(recent.sum()))
    return _Releases(
        artist=as_int(artist + first_artist),
        label=as_int(farm_label_of[farm_artists[artist]]),
        day=as_int(day),
        kind=kind,
        sizes=as_int(release_sizes),
    )


def _draw_featured(
    genuine_tracks: int,
    tracks: int,
    track_artist: IntArray,
    artists: _GenuineArtists,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """About 4 % of genuine tracks credit one or two more main artists (CSR layout), mostly
    from the primary artist's scene."""
    featuring = np.flatnonzero(rng.random(genuine_tracks) < 0.04)
    slots = np.where(rng.random(len(featuring)) < 0.85, 1, 2)
    owners = np.repeat(featuring, slots)
    same_scene = rng.random(len(owners)) < 0.7
    candidates = artists.global_sampler.sample(as_int(np.zeros(len(owners))), rng)
    scene_pick = artists.scene_sampler.sample(artists.scene[track_artist[owners]], rng)
    candidates[same_scene] = scene_pick[same_scene]
    counts = np.zeros(tracks, dtype=np.int64)
    featured: list[int] = []
    previous_owner = -1
    credited: list[int] = []
    for owner, candidate in zip(owners.tolist(), candidates.tolist(), strict=True):
        if owner != previous_owner:
            credited = [int(track_artist[owner])]
            previous_owner = owner
        if candidate in credited:
            continue
        credited.append(candidate)
        featured.append(candidate)
        counts[owner] += 1
    ptr = np.concatenate(([0], np.cumsum(counts)))
    return as_int(ptr), as_int(np.array(featured, dtype=np.int64))
