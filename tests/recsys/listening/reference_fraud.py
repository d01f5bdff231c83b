"""The fraud screen as it was before columnar ingestion (commit 5bc8ae6), kept only as the
reference that ``test_columnar_equivalence`` holds the production code to: the same arrays,
reports and verdicts for the same input. Not a second production path."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys.listening.fraud import FraudRules, TrackFacts
from recsys.listening.reader import ListenLog

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
_MERSENNE = (1 << 31) - 1


@dataclass(frozen=True, slots=True)
class FraudVerdict:
    flagged_users: BoolArray  # by the log's user index
    rules_by_user: dict[int, tuple[str, ...]]
    kept_rows: BoolArray
    capped_plays: npt.NDArray[np.int32]
    accounts_by_rule: dict[str, int]
    excluded_plays: int
    capped_away_plays: int

    def summary(self, total_users: int) -> dict[str, object]:
        return {
            "accounts": total_users,
            "accounts_flagged": int(self.flagged_users.sum()),
            "accounts_by_rule": dict(sorted(self.accounts_by_rule.items())),
            "plays_excluded": self.excluded_plays,
            "plays_capped_away": self.capped_away_plays,
        }


def _group_sum(keys: IntArray, values: IntArray) -> tuple[IntArray, IntArray]:
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse, weights=values).astype(np.int64)


def _max_per_user(users: IntArray, values: IntArray, n_users: int) -> IntArray:
    result = np.zeros(n_users, dtype=np.int64)
    np.maximum.at(result, users, values)
    return result


def _share_of_top_group(
    user: IntArray, group: IntArray, plays: IntArray, n_users: int
) -> tuple[FloatArray, IntArray]:
    """Per user, the largest share of plays that went to one group, and which group."""
    span = int(group.max()) + 1 if len(group) else 1
    keys, sums = _group_sum(user * span + group, plays)
    key_user, key_group = keys // span, keys % span
    best = np.zeros(n_users, dtype=np.int64)
    np.maximum.at(best, key_user, sums)
    top = np.full(n_users, -1, dtype=np.int64)
    is_best = sums == best[key_user]
    top[key_user[is_best]] = key_group[is_best]
    totals = np.bincount(user, weights=plays, minlength=n_users)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(best / totals), top


def _minhash_duplicates(
    user: IntArray, item: IntArray, n_users: int, rules: FraudRules
) -> BoolArray:
    """Accounts sharing a MinHash band with enough others: near-identical item sets."""
    span = int(item.max()) + 1 if len(item) else 1
    pairs = np.unique(user * span + item)
    pair_user, pair_track = pairs // span, pairs % span
    distinct = np.bincount(pair_user, minlength=n_users)
    eligible = distinct >= rules.duplicate_min_tracks
    rng = np.random.default_rng(rules.seed)
    count = rules.minhash_bands * rules.minhash_rows
    a = rng.integers(1, _MERSENNE, count, dtype=np.int64)
    b = rng.integers(0, _MERSENNE, count, dtype=np.int64)
    signatures = np.full((n_users, count), _MERSENNE, dtype=np.int64)
    for i in range(count):
        hashed = (a[i] * pair_track + b[i]) % _MERSENNE
        np.minimum.at(signatures[:, i], pair_user, hashed)
    flagged = np.zeros(n_users, dtype=bool)
    candidates = np.flatnonzero(eligible)
    for band in range(rules.minhash_bands):
        block = signatures[candidates, band * rules.minhash_rows : (band + 1) * rules.minhash_rows]
        _, inverse, counts = np.unique(block, axis=0, return_inverse=True, return_counts=True)
        flagged[candidates[counts[inverse.ravel()] >= rules.duplicate_min_group]] = True
    return flagged


def screen_listens(log: ListenLog, facts: TrackFacts, rules: FraudRules) -> FraudVerdict:
    """Flag fraudulent accounts and cap loops; see the module docstring for the rules."""
    n_users = len(log.users)
    user = log.user.astype(np.int64)
    track = log.track.astype(np.int64)
    plays = log.plays.astype(np.int64)
    day = log.day.astype(np.int64) - (int(log.day.min()) if len(log) else 0)
    days = int(day.max()) + 1 if len(log) else 1
    totals = np.bincount(user, weights=plays, minlength=n_users)
    enough = totals >= rules.min_plays_for_shares
    flags: dict[str, BoolArray] = {}

    day_keys, day_plays = _group_sum(user * days + day, plays)
    flags["daily_plays"] = _max_per_user(day_keys // days, day_plays, n_users) > (
        rules.max_plays_per_day
    )

    # One group per (user, day, track): loops are judged and capped on the same sums.
    loop_rows = (user * days + day) * len(log.tracks) + track
    loop_keys, loop_group = np.unique(loop_rows, return_inverse=True)
    loop_plays = np.bincount(loop_group, weights=plays).astype(np.int64)
    loop_days = np.unique(loop_keys[loop_plays > rules.max_track_plays_per_day] // len(log.tracks))
    flags["track_loops"] = np.bincount(loop_days // days, minlength=n_users) > rules.max_loop_days

    per_play = log.ms_played / np.maximum(plays, 1)
    short = (per_play >= rules.short_play_min_ms) & (per_play < rules.short_play_max_ms)
    short_plays = np.bincount(user, weights=plays * short, minlength=n_users)
    with np.errstate(invalid="ignore", divide="ignore"):
        flags["short_plays"] = enough & (
            np.nan_to_num(short_plays / totals) >= rules.max_short_play_share
        )
        outside = np.bincount(user, weights=plays * facts.farm_like[track], minlength=n_users)
        flags["farm_concentration"] = enough & (
            np.nan_to_num(outside / totals) >= rules.max_farm_share
        )

    label_share, _ = _share_of_top_group(user, facts.label[track], plays, n_users)
    flags["label_concentration"] = enough & (label_share >= rules.max_label_share)

    artist = facts.artist[track]
    listeners = (
        np.bincount(np.unique(user * (int(artist.max()) + 1) + artist) % (int(artist.max()) + 1))
        if len(artist)
        else np.zeros(1, dtype=np.int64)
    )
    head = max(1, int(np.ceil(len(listeners) * rules.popular_artist_fraction)))
    popular = np.zeros(len(listeners), dtype=bool)
    popular[np.argsort(-listeners, kind="stable")[:head]] = True
    target_share, target = _share_of_top_group(user, artist, plays, n_users)
    popular_plays = np.bincount(user, weights=plays * popular[artist], minlength=n_users)
    rest = totals * (1 - target_share)
    with np.errstate(invalid="ignore", divide="ignore"):
        cover = np.nan_to_num(popular_plays / rest)
    flags["bandwagon"] = (
        enough
        & (target_share >= rules.bandwagon_target_share)
        & ~popular[np.maximum(target, 0)]
        & (cover >= rules.bandwagon_popular_share)
    )

    flags["duplicate_histories"] = _minhash_duplicates(user, track * days + day, n_users, rules)

    flagged = np.zeros(n_users, dtype=bool)
    for hits in flags.values():
        flagged |= hits
    rules_by_user: dict[int, tuple[str, ...]] = {
        int(u): tuple(name for name, hits in flags.items() if hits[u])
        for u in np.flatnonzero(flagged)
    }
    kept_rows = ~flagged[user]
    scale = np.minimum(1.0, rules.max_track_plays_per_day / np.maximum(loop_plays, 1))
    capped = np.maximum(1, np.floor(plays * scale[loop_group])).astype(np.int64)
    capped_away = int((plays - capped)[kept_rows].sum())
    return FraudVerdict(
        flagged_users=flagged,
        rules_by_user=rules_by_user,
        kept_rows=kept_rows,
        capped_plays=capped.astype(np.int32),
        accounts_by_rule=dict(Counter({k: int(v.sum()) for k, v in flags.items()})),
        excluded_plays=int(plays[~kept_rows].sum()),
        capped_away_plays=capped_away,
    )
