"""Moderation facts: AI declarations, AI flags, takedowns, and which tracks end up eligible.

The mix is chosen to exercise every rule of the trust gate and the final filter: honest
"generated" and allowed "assisted" declarations, spam-farm tracks that lie ("none") but are
caught by the detector, hidden AI tracks on trusted labels by verified artists caught only by
the detector (exclude and review bands) or a curator, label flags, listener reports that must
not exclude on their own, and low detector scores (noise) that must be ignored. Scores sit
exactly on the 0.5 and 0.9 thresholds at least once, so off-by-one comparisons show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.world.arrays import BoolArray, FloatArray, IntArray, as_int
from recsys.world.codes import (
    DECLARATION_ASSISTED,
    DECLARATION_GENERATED,
    DECLARATION_NONE,
    DETECTOR_EXCLUDE,
    DETECTOR_REVIEW,
    SOURCE_CURATOR,
    SOURCE_DETECTOR,
    SOURCE_LABEL,
    SOURCE_LISTENER,
)
from recsys.world.config import WorldConfig
from recsys.world.encoding import SECONDS_PER_DAY
from recsys.world.synthetic_catalog import Catalog
from recsys.world.word_lists import TAKEDOWN_REASONS

EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
FLAG_DAYS = 180


@dataclass(frozen=True, slots=True)
class Moderation:
    """Per-track declarations, the flag log, the takedown list and the derived truth sets."""

    declaration: IntArray
    flag_track: IntArray
    flag_source: IntArray
    flag_score: FloatArray
    flag_at: IntArray  # epoch seconds
    takedown_track: IntArray
    takedown_reason: tuple[str, ...]
    takedown_at: IntArray
    trust_ok: BoolArray  # trusted partner and label, every main artist verified
    eligible: BoolArray
    hidden_ai: IntArray
    label_flagged: IntArray
    listener_flagged: IntArray
    detector_noise: IntArray

    def max_detector_score(self, tracks: int) -> FloatArray:
        """Highest detector score per track (-1 where the detector never flagged it)."""
        best = np.full(tracks, -1.0)
        detector = self.flag_source == SOURCE_DETECTOR
        np.maximum.at(best, self.flag_track[detector], self.flag_score[detector])
        return best

    def tracks_flagged_by(self, source: int) -> IntArray:
        """Sorted distinct tracks carrying at least one flag from `source`."""
        return as_int(np.unique(self.flag_track[self.flag_source == source]))


class _FlagLog:
    """Accumulates flags in draw order; converted to arrays once complete."""

    def __init__(self) -> None:
        self.tracks: list[IntArray] = []
        self.sources: list[IntArray] = []
        self.scores: list[FloatArray] = []

    def add(self, tracks: IntArray, source: int, scores: FloatArray) -> None:
        self.tracks.append(as_int(tracks))
        self.sources.append(as_int(np.full(len(tracks), source)))
        self.scores.append(np.asarray(scores, dtype=np.float64))


def _pick(pool: IntArray, count: int, rng: np.random.Generator) -> IntArray:
    """`count` distinct members of `pool` (fewer if the pool is smaller), sorted."""
    count = min(count, len(pool))
    return as_int(np.sort(rng.choice(pool, size=count, replace=False)))


def _band(rng: np.random.Generator, count: int, low: float, high: float) -> FloatArray:
    """Scores in [low, high) with three decimals; the first is exactly `low`."""
    scores = np.floor(rng.uniform(low, high, count) * 1000.0) / 1000.0
    scores = np.minimum(scores, high - 0.001)
    if count:
        scores[0] = low
    return np.asarray(scores, dtype=np.float64)


def build_moderation(config: WorldConfig, catalog: Catalog, rng: np.random.Generator) -> Moderation:
    """Draw declarations, flags and takedowns, then derive eligibility the way the gate must."""
    tracks = catalog.tracks
    genuine_count = catalog.genuine_tracks
    genuine = as_int(np.arange(genuine_count))
    farm = as_int(np.arange(genuine_count, tracks))
    trust_ok = (
        catalog.partner_trusted[catalog.track_partner]
        & catalog.label_trusted[catalog.track_label]
        & catalog.all_main_artists_verified()
    )
    declaration = as_int(np.full(tracks, DECLARATION_NONE))
    free = np.ones(tracks, dtype=bool)  # genuine tracks not yet given a special role

    def take(pool: IntArray, count: int) -> IntArray:
        chosen = _pick(as_int(pool[free[pool]]), count, rng)
        free[chosen] = False
        return chosen

    primary_verified = genuine[catalog.artist_verified[catalog.track_artist[genuine]]]
    assisted = take(primary_verified, round(genuine_count * config.assisted_share))
    declaration[assisted] = DECLARATION_ASSISTED
    honest = take(genuine, round(genuine_count * config.declared_generated_share))
    declaration[honest] = DECLARATION_GENERATED

    log = _FlagLog()
    gate_passing = genuine[trust_ok[genuine]]
    hidden_count = max(3, round(genuine_count * config.hidden_ai_share))
    hidden = take(gate_passing, hidden_count if config.hidden_ai_share > 0.0 else 0)
    hidden = as_int(rng.permutation(hidden))
    exclude_count = min(len(hidden), max(1, round(len(hidden) * 0.4)))
    review_count = min(len(hidden) - exclude_count, max(1, round(len(hidden) * 0.35)))
    hidden_exclude = hidden[:exclude_count]
    hidden_review = hidden[exclude_count : exclude_count + review_count]
    hidden_curator = hidden[exclude_count + review_count :]
    log.add(hidden_exclude, SOURCE_DETECTOR, _band(rng, len(hidden_exclude), DETECTOR_EXCLUDE, 1.0))
    log.add(
        hidden_review,
        SOURCE_DETECTOR,
        _band(rng, len(hidden_review), DETECTOR_REVIEW, DETECTOR_EXCLUDE),
    )
    log.add(hidden_curator, SOURCE_CURATOR, np.ones(len(hidden_curator)))
    hidden = as_int(np.sort(hidden))

    label_flagged = take(gate_passing, max(1, round(genuine_count * 0.002)))
    log.add(label_flagged, SOURCE_LABEL, np.ones(len(label_flagged)))

    # Listener reports are allowed on any genuine track, special or not: they only inform.
    listener = _pick(genuine, max(2, round(genuine_count * 0.003)), rng)
    log.add(listener, SOURCE_LISTENER, np.round(rng.uniform(0.3, 1.0, len(listener)), 3))

    noise = _pick(
        as_int(genuine[np.isin(genuine, np.concatenate((hidden, label_flagged)), invert=True)]),
        round(genuine_count * config.detector_noise_share),
        rng,
    )
    log.add(noise, SOURCE_DETECTOR, _band(rng, len(noise), 0.01, DETECTOR_REVIEW))

    if len(farm):
        lies = rng.random(len(farm)) < 0.45
        declaration[farm[~lies]] = DECLARATION_GENERATED
        roll = rng.random(len(farm))
        caught_high = farm[(lies & (roll < 0.8)) | (~lies & (roll < 0.5))]
        caught_mid = farm[lies & (roll >= 0.8) & (roll < 0.92)]
        log.add(caught_high, SOURCE_DETECTOR, _band(rng, len(caught_high), 0.93, 1.0))
        log.add(caught_mid, SOURCE_DETECTOR, _band(rng, len(caught_mid), 0.6, DETECTOR_EXCLUDE))
        curated = _pick(farm, max(1, round(len(farm) * 0.02)), rng)
        log.add(curated, SOURCE_CURATOR, np.ones(len(curated)))

    flag_track = as_int(np.concatenate(log.tracks))
    flag_source = as_int(np.concatenate(log.sources))
    flag_score = np.asarray(np.concatenate(log.scores), dtype=np.float64)
    flag_at = _moments_after_release(catalog, flag_track, FLAG_DAYS, rng)

    takedowns = max(2, round(genuine_count * config.takedown_share))
    takedown_genuine = _pick(genuine, takedowns if config.takedown_share > 0.0 else 0, rng)
    takedown_farm = _pick(farm, min(3, len(farm)) if config.takedown_share > 0.0 else 0, rng)
    takedown_track = as_int(np.concatenate((takedown_genuine, takedown_farm)))
    reasons = [
        TAKEDOWN_REASONS[i] for i in rng.integers(0, len(TAKEDOWN_REASONS), len(takedown_genuine))
    ] + ["copyright"] * len(takedown_farm)
    takedown_at = _moments_after_release(catalog, takedown_track, 60, rng)

    blocked = np.zeros(tracks, dtype=bool)
    detector = flag_source == SOURCE_DETECTOR
    blocked[flag_track[detector & (flag_score >= DETECTOR_REVIEW)]] = True
    blocked[flag_track[(flag_source == SOURCE_LABEL) | (flag_source == SOURCE_CURATOR)]] = True
    blocked[takedown_track] = True
    eligible = trust_ok & (declaration != DECLARATION_GENERATED) & ~blocked

    return Moderation(
        declaration=declaration,
        flag_track=flag_track,
        flag_source=flag_source,
        flag_score=flag_score,
        flag_at=flag_at,
        takedown_track=takedown_track,
        takedown_reason=tuple(reasons),
        takedown_at=takedown_at,
        trust_ok=trust_ok,
        eligible=eligible,
        hidden_ai=hidden,
        label_flagged=label_flagged,
        listener_flagged=listener,
        detector_noise=noise,
    )


def _moments_after_release(
    catalog: Catalog, tracks: IntArray, within_days: int, rng: np.random.Generator
) -> IntArray:
    """Epoch seconds in the last `within_days` days before today, never before the release."""
    today = catalog.today_ordinal - EPOCH_ORDINAL
    released = catalog.track_day[tracks] - EPOCH_ORDINAL
    first = np.maximum(released, today - within_days)
    day = first + np.floor(rng.random(len(tracks)) * (today - first)).astype(np.int64)
    return as_int(day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, len(tracks)))
