"""The synthetic world's configuration and the sizes derived from it.

Everything that shapes a world is a field here, including the clock (`today`), so the generator
is a pure function of its config: the same config gives byte-identical files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

MIN_USERS = 50
MIN_ARTISTS = 20


@dataclass(frozen=True, slots=True)
class WorldConfig:
    """What to generate. `users` counts every listener, bots included; `artists` counts genuine
    artists only (spam-farm "artists" come on top, sized by `farm_track_share`)."""

    users: int
    artists: int
    seed: int
    today: date
    # Listening window: played_at falls in the `listen_days` days before `today`.
    listen_days: int = 180
    # Rows per genuine listener follow a log-normal with this median (long tail above it).
    median_listen_rows: float = 40.0
    # Share of users that are streaming-fraud bots (farm streamers and pushers).
    bot_share: float = 0.025
    # Share of the catalogue's tracks that belong to AI spam farms.
    farm_track_share: float = 0.15
    # Genuine artists without a verified profile (drawn from the less popular ones).
    unverified_artist_share: float = 0.08
    # Genuine labels the platform has not (yet) trusted.
    untrusted_label_share: float = 0.12
    # Genuine tracks declared "assisted" (allowed), "generated" (honest, excluded) and hidden
    # AI tracks declared "none" but caught by the detector or a curator.
    assisted_share: float = 0.03
    declared_generated_share: float = 0.005
    hidden_ai_share: float = 0.01
    # Genuine tracks carrying a harmless low detector score (< 0.5): noise the gate must ignore.
    detector_noise_share: float = 0.02
    takedown_share: float = 0.0015
    optout_share: float = 0.01
    exclusion_user_share: float = 0.02
    # Listens are written as listens/part-NNNN.csv, one per block of this many users, and
    # generated in chunks of `chunk_users` to bound memory at any size.
    users_per_listen_file: int = 50_000
    chunk_users: int = 8_192

    def __post_init__(self) -> None:
        if isinstance(self.today, datetime) or not isinstance(self.today, date):
            raise ValueError("today must be a datetime.date (a day, not a datetime)")
        if self.users < MIN_USERS:
            raise ValueError(f"users must be at least {MIN_USERS}, got {self.users}")
        if self.artists < MIN_ARTISTS:
            raise ValueError(f"artists must be at least {MIN_ARTISTS}, got {self.artists}")
        if self.users >= 10_000_000 or self.artists >= 2_000_000:
            raise ValueError("at most 9,999,999 users and 1,999,999 artists")
        if not 14 <= self.listen_days <= 3650:
            raise ValueError(f"listen_days must be within 14..3650, got {self.listen_days}")
        if not 1.0 <= self.median_listen_rows <= 10_000.0:
            raise ValueError("median_listen_rows must be within 1..10000")
        if self.users_per_listen_file < 1 or self.chunk_users < 1:
            raise ValueError("users_per_listen_file and chunk_users must be positive")
        shares = {
            "bot_share": (self.bot_share, 0.2),
            "farm_track_share": (self.farm_track_share, 0.6),
            "unverified_artist_share": (self.unverified_artist_share, 0.5),
            "untrusted_label_share": (self.untrusted_label_share, 0.5),
            "assisted_share": (self.assisted_share, 0.2),
            "declared_generated_share": (self.declared_generated_share, 0.2),
            "hidden_ai_share": (self.hidden_ai_share, 0.2),
            "detector_noise_share": (self.detector_noise_share, 0.2),
            "takedown_share": (self.takedown_share, 0.2),
            "optout_share": (self.optout_share, 0.5),
            "exclusion_user_share": (self.exclusion_user_share, 0.5),
        }
        for name, (value, upper) in shares.items():
            if not 0.0 <= value <= upper:
                raise ValueError(f"{name} must be within 0..{upper}, got {value}")


@dataclass(frozen=True, slots=True)
class WorldSizes:
    """Entity counts derived from a config, in one place so tests and docs agree on them."""

    scenes: int
    genuine_partners: int
    untrusted_genuine_partners: int
    farms: int
    genuine_labels: int
    bots: int


def derive_sizes(config: WorldConfig) -> WorldSizes:
    """Scale the supporting cast with the catalogue: about 20 scenes for a small world, up to
    60 for a large one; a distributor per ~250 artists, a label per ~12, a spam farm per ~2,500.
    Bots get a floor of 9 so that each kind forms at least one group of three."""
    artists = config.artists
    scenes = min(60, max(20, round(2.0 * math.sqrt(artists))), artists // 3)
    genuine_partners = min(60, max(5, round(artists / 250)))
    untrusted = max(1, round(genuine_partners * 0.15))
    farms = min(40, max(2, round(artists / 2500))) if config.farm_track_share > 0.0 else 0
    genuine_labels = min(20_000, max(6, round(artists / 12)))
    bots = min(config.users // 4, max(9, round(config.users * config.bot_share)))
    if config.bot_share == 0.0:
        bots = 0
    return WorldSizes(
        scenes=scenes,
        genuine_partners=genuine_partners,
        untrusted_genuine_partners=untrusted,
        farms=farms,
        genuine_labels=genuine_labels,
        bots=bots,
    )
