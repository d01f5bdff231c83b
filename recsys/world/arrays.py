"""Array aliases and vectorised sampling helpers shared by the world's builders.

The world is built as parallel numpy arrays indexed by dense entity numbers (artist 0..n-1),
not as Python objects, so that a million-track, million-user world fits in a few GB and
samples in seconds. External ids (``ar000123``) are only attached when files are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ByteMatrix = npt.NDArray[np.uint8]


def as_int(values: npt.ArrayLike) -> IntArray:
    """Coerce to int64, the one integer dtype the builders exchange."""
    return np.asarray(values, dtype=np.int64)


def zipf_weights(ranks: IntArray, exponent: float) -> FloatArray:
    """Power-law weight of a 0-based popularity rank: rank 0 is the most popular."""
    return np.asarray(1.0 / np.power(ranks.astype(np.float64) + 1.0, exponent), dtype=np.float64)


def random_ranks_within_groups(groups: IntArray, rng: np.random.Generator) -> IntArray:
    """A uniformly random 0-based rank for each element among the elements of its group.

    Used to give each artist's tracks a popularity order without a per-artist Python loop.
    """
    count = len(groups)
    if count == 0:
        return as_int(np.zeros(0))
    keys = rng.random(count)
    order = np.lexsort((keys, groups))
    sorted_groups = groups[order]
    boundary = np.empty(count, dtype=bool)
    boundary[0] = True
    np.not_equal(sorted_groups[1:], sorted_groups[:-1], out=boundary[1:])
    starts = np.flatnonzero(boundary)
    lengths = np.diff(np.append(starts, count))
    rank_in_sorted = np.arange(count, dtype=np.int64) - np.repeat(starts, lengths)
    ranks = np.empty(count, dtype=np.int64)
    ranks[order] = rank_in_sorted
    return ranks


@dataclass(frozen=True, slots=True)
class SegmentedSampler:
    """Draws one item from a chosen segment (a scene's artists, an artist's tracks) with
    probability proportional to the item's weight, for many draws at once.

    All segments share one sorted array of ``segment + cumulative share``, so a single
    ``searchsorted`` answers a whole chunk of draws, whatever segment each draw is from.
    """

    items: IntArray
    cumulative: FloatArray
    starts: IntArray
    stops: IntArray

    @classmethod
    def build(
        cls,
        segment_of_item: IntArray,
        weights: FloatArray,
        segments: int,
        item_ids: IntArray | None = None,
    ) -> SegmentedSampler:
        """Group items by segment; weights must be positive. ``item_ids`` names what a draw
        returns (default: the item's position). Empty segments are allowed but must never be
        drawn from."""
        count = len(segment_of_item)
        order = np.lexsort((np.arange(count), segment_of_item))
        segment = segment_of_item[order]
        weight = weights[order]
        counts = np.bincount(segment, minlength=segments).astype(np.int64)
        stops = np.cumsum(counts)
        starts = stops - counts
        running = np.concatenate(([0.0], np.cumsum(weight)))
        before = running[starts]
        totals = running[stops] - before
        safe_totals = np.where(totals > 0.0, totals, 1.0)
        within = (running[1:] - before[segment]) / safe_totals[segment]
        nonempty = counts > 0
        within[stops[nonempty] - 1] = 1.0
        within = np.minimum(within, 1.0)
        cumulative = segment.astype(np.float64) + within
        return cls(
            items=as_int(order) if item_ids is None else as_int(item_ids[order]),
            cumulative=np.asarray(cumulative, dtype=np.float64),
            starts=as_int(starts),
            stops=as_int(stops),
        )

    def sample(self, segments: IntArray, rng: np.random.Generator) -> IntArray:
        """One weighted draw from each requested segment."""
        targets = segments.astype(np.float64) + rng.random(len(segments))
        if len(self.cumulative) > 50_000:
            # Sorted needles let the binary searches reuse each other's bounds: ~3x faster
            # on a million-entry table than searching in random order.
            order = np.argsort(targets)
            position = np.empty(len(targets), dtype=np.int64)
            position[order] = np.searchsorted(self.cumulative, targets[order], side="right")
        else:
            position = as_int(np.searchsorted(self.cumulative, targets, side="right"))
        # Rounding of ``segment + u`` for u just under 1 can land on the next segment's start.
        position = np.clip(position, self.starts[segments], self.stops[segments] - 1)
        return self.items[position]
