"""Everything a generator may look at, passed in as values (STYLE.md, point 2).

``GenerationContext`` is shared by all users of one rebuild (pool, graph, model, the day);
``UserProfile`` is one listener's history, follows and exclusions. Generators never read the
clock, the state or the network: a mix is a pure function of these and the seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar, cast

import networkx as nx
import numpy as np
import numpy.typing as npt

from recsys.domain.exclusions import NO_EXCLUSIONS, UserExclusions
from recsys.domain.mix import Reason
from recsys.embeddings.artist_model import ArtistModel
from recsys.generators.catalog_index import CatalogIndex
from recsys.generators.neighbourhood import edge_reason
from recsys.generators.taste_clusters import ArtistScenes, GraphWeights
from recsys.listening.history import EMPTY_HISTORY, TrackHistory

_EPOCH = date(1970, 1, 1)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GeneratorSettings:
    """``config/default.toml`` ``[generators]``; see there for what each key means."""

    max_mixes: int = 6
    mix_min_tracks: int = 25
    mix_max_tracks: int = 50
    mix_target_tracks: int = 30
    familiar_share: float = 0.75
    min_familiar_share: float = 0.5
    top_artists: int = 40
    scene_resolution: float = 2.0
    max_tracks_per_artist: int = 4
    max_discovery_tracks_per_artist: int = 2
    recent_days: int = 60
    release_radar_days: int = 14
    release_radar_max_tracks: int = 30
    release_radar_tracks_per_release: int = 2
    radio_tracks: int = 50
    radio_max_tracks_per_artist: int = 3
    radio_familiar_boost: float = 1.5
    radio_skip_penalty: float = 0.3
    cold_start_artists: int = 60
    # How a mix's discovery slots rank the graph neighbours of its anchors: "graph" (their
    # edges' strength to the anchors) or "listener" (the listener's own model score).
    discovery_ranking: str = "graph"
    # With "listener": the score is the listener's (over the best candidate's) plus this much
    # of the graph's (over the best candidate's), for mixes that stay close to their anchors.
    discovery_graph_weight: float = 0.0
    # With "listener": a listener's discovery slots go to their best candidates across all
    # their mixes: a candidate needs an own score among the best (this x the planned mixes'
    # discovery slots) of all their mixes' candidates; 0 = each mix takes its own best.
    discovery_candidates_per_slot: float = 1.0
    # At most this many of a mix's anchors give its familiar tracks: those whose tags are
    # closest to the other anchors' (the mix's style); more only when they cannot fill it.
    # 0 = every anchor.
    mix_familiar_artists: int = 0
    seed: int = 7

    def __post_init__(self) -> None:
        if not 0 < self.mix_min_tracks <= self.mix_target_tracks <= self.mix_max_tracks:
            raise ValueError("need 0 < mix_min_tracks <= mix_target_tracks <= mix_max_tracks")
        if not 0.0 < self.min_familiar_share <= self.familiar_share <= 1.0:
            raise ValueError("need 0 < min_familiar_share <= familiar_share <= 1")
        if self.max_discovery_tracks_per_artist > self.max_tracks_per_artist:
            raise ValueError("max_discovery_tracks_per_artist cannot exceed max_tracks_per_artist")
        if not self.discovery_candidates_per_slot >= 0.0:
            raise ValueError("discovery_candidates_per_slot must be 0 or above")
        if not self.discovery_graph_weight >= 0.0:
            raise ValueError("discovery_graph_weight must be 0 or above")
        if self.discovery_ranking not in ("graph", "listener"):
            raise ValueError('discovery_ranking must be "graph" or "listener"')
        if not self.scene_resolution > 0:
            raise ValueError("scene_resolution must be above 0")
        if self.mix_familiar_artists < 0:
            raise ValueError("mix_familiar_artists must be 0 (every anchor) or above")


@dataclass(frozen=True)
class RecentReleases:
    releases: tuple[tuple[str, ...], ...]  # newest release first
    by_artist: Mapping[str, tuple[int, ...]]  # artist -> positions in ``releases``
    # The graph's edges that lead to an artist with a recent release, for every artist: the
    # Release Radar looks only for those, for every listener.
    edges_to_released: GraphWeights


@dataclass(frozen=True)
class GenerationContext:
    catalog: CatalogIndex
    graph: nx.Graph
    model: ArtistModel | None
    blocked: Mapping[str, frozenset[str]]  # artist -> artists a curator blocked it with
    now: datetime
    settings: GeneratorSettings
    weights: GraphWeights  # the graph's edge scores as plain dicts (``graph_weights``)
    scenes: ArtistScenes  # the graph's communities (``find_scenes``)

    _recent_releases: dict[date, RecentReleases] = field(
        default_factory=dict, repr=False, compare=False
    )
    # The reason each graph edge gives a track, made once per edge (see ``edge_reason``).
    _edge_reasons: dict[tuple[str, str], Reason] = field(
        default_factory=dict, repr=False, compare=False
    )
    # Outputs that are the same for every listener without personalisation (see ``shared``).
    _shared: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def today(self) -> date:
        return self.now.date()

    def recent_releases(self, days: int) -> RecentReleases:
        """The last ``days`` days' releases (newest first, each release's tracks most listened
        first) and, per artist, which of them they are on: the same for all listeners, so
        worked out once."""
        first_day = self.today - timedelta(days=days)
        cached = self._recent_releases.get(first_day)
        if cached is None:
            releases = tuple(
                track_ids
                for _day, _release, track_ids in self.catalog.releases_since(first_day, self.today)
            )
            by_artist: dict[str, list[int]] = {}
            for order, track_ids in enumerate(releases):
                for artist in {a for t in track_ids for a in self.catalog.tracks[t].artist_ids}:
                    by_artist.setdefault(artist, []).append(order)
            edges_to_released = {
                artist: kept
                for artist, row in self.weights.items()
                if (kept := {b: w for b, w in row.items() if b in by_artist})
            }
            cached = RecentReleases(
                releases, {a: tuple(o) for a, o in by_artist.items()}, edges_to_released
            )
            self._recent_releases[first_day] = cached
        return cached

    def edge_reason(self, anchor: str, artist: str) -> Reason:
        """Why ``artist`` is here because of ``anchor`` (``neighbourhood.edge_reason``), one
        shared value per edge: listeners meet the same edges again and again."""
        key = (anchor, artist)
        reason = self._edge_reasons.get(key)
        if reason is None:
            reason = self._edge_reasons[key] = edge_reason(self.graph, anchor, artist)
        return reason

    def shared(self, key: tuple[str, ...], compute: Callable[[], T]) -> T:
        """``compute()``, worked out once per context and ``key``: what is the same for every
        listener without personalisation (cold start, opt-outs) is not built for each of them.
        Copies made by ``dataclasses.replace`` (another ``now``) share it, so a key must name
        everything besides the context's pool, graph and model that the value depends on."""
        if key not in self._shared:
            self._shared[key] = compute()
        return cast(T, self._shared[key])

    @property
    def model_version(self) -> str:
        return self.model.version if self.model is not None else "none"

    def rng_for(self, *parts: str) -> np.random.Generator:
        """A generator seeded by the settings' seed and what is being made: reproducible per
        user and kind, independent of the order users are processed in."""
        digest = hashlib.sha256("\0".join((str(self.settings.seed), *parts)).encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))


class Listener(NamedTuple):
    """What the generators (``batch``) read of a listener besides their history (read from
    the engine's ``ListeningHistory`` by id): a rebuild makes one per listener, and a whole
    ``UserProfile`` copies their history into Python objects (a named tuple: a frozen
    dataclass takes several times as long to make). ``personalised`` as ``UserProfile``'s."""

    user_id: str
    follows: frozenset[str]
    exclusions: UserExclusions
    personalised: bool = True


@dataclass(frozen=True)
class UserProfile:
    """One listener as the generators see them. ``personalised`` is False for opted-out and
    unknown users: they get the same non-personalised output as anyone new."""

    user_id: str
    personalised: bool
    history: TrackHistory = EMPTY_HISTORY
    follows: frozenset[str] = frozenset()
    exclusions: UserExclusions = NO_EXCLUSIONS
    factors: npt.NDArray[np.float32] | None = None

    def recent_tracks(self, today: date, days: int) -> frozenset[str]:
        cutoff = (today - timedelta(days=days) - _EPOCH).days
        return frozenset(
            t
            for t, d in zip(self.history.track_ids, self.history.last_day, strict=True)
            if d >= cutoff
        )


def anonymous(user_id: str, exclusions: UserExclusions = NO_EXCLUSIONS) -> UserProfile:
    """A user without personalisation (opted out, or never seen); exclusions still apply."""
    return UserProfile(user_id=user_id, personalised=False, exclusions=exclusions)
