"""The engine as generators and readers use it: current artefacts loaded once, as values.

``load_engine`` is the edge: it reads the pointers (or the versions a rebuild is about to
publish), the pool snapshot, the model, the history, the curator links and the per-user state,
and returns an ``Engine`` whose methods are pure.
"""

from __future__ import annotations

import bisect
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import networkx as nx

from pool.importer import SNAPSHOT_DIR, load_current_pool
from pool.snapshot import read_snapshot
from pool.state import get_pointer, load_serving_exclusions
from recsys.curation.store import load_links
from recsys.domain.exclusions import NO_EXCLUSIONS, UserExclusions
from recsys.domain.mix import MixTrack
from recsys.embeddings.artist_model import ArtistModel, load_model
from recsys.generators.batch import BatchGenerator, ChunkUser, UserOutput
from recsys.generators.batch_arrays import build_generation_arrays
from recsys.generators.catalog_index import CatalogIndex, build_catalog_index
from recsys.generators.context import GenerationContext, Listener, UserProfile, anonymous
from recsys.generators.neighbourhood import blocked_partners, graph_weights
from recsys.generators.taste_clusters import find_scenes
from recsys.graph.similar_artists import build_similar_artist_graph
from recsys.listening.history import ListeningHistory, load_history
from recsys.serving.final_filter import ServingGate
from recsys.settings import Settings
from recsys.state.privacy import Tombstones, load_tombstones
from recsys.state.users import load_exclusions, load_follows, load_optouts
from recsys.training.run import MODEL_POINTER, MODELS_DIR


class _Generators:
    """An engine's ``BatchGenerator`` for the current day (its arrays hold that day's Release
    Radar window and "played recently" cutoff), made on the first request that needs it and
    shared by every copy of the engine (``Engine.at``). One lock: the generator's scratch
    arrays serve one call at a time, and a call takes well under a millisecond."""

    def __init__(self) -> None:
        self._day: date | None = None
        self._generator: BatchGenerator | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        """Nothing: an engine sent to another process (a cluster worker) makes its own
        generator there, for its own day (and a lock cannot be pickled)."""
        return {}

    def __setstate__(self, _: dict[str, object]) -> None:
        self.__init__()  # type: ignore[misc]

    @contextmanager
    def current(self, engine: Engine) -> Iterator[BatchGenerator]:
        """The generator for ``engine``'s context, held alone while the block runs."""
        ctx = engine.context
        with self._lock:
            if self._generator is None or self._day != ctx.today:
                arrays = build_generation_arrays(ctx, engine.history)
                self._generator = BatchGenerator(ctx, arrays, engine.history)
                self._day = ctx.today
            yield self._generator.at(ctx)


@dataclass(frozen=True)
class Engine:
    context: GenerationContext
    gate: ServingGate
    history: ListeningHistory
    optouts: frozenset[str]
    follows: dict[str, frozenset[str]]
    exclusions: dict[str, UserExclusions]
    # Erased users: a store restored from an old snapshot may still hold their mixes.
    tombstones: Tombstones
    # Curators' blocks with the moment each was made, oldest first: a stored mix generated
    # before a block may hold a reason across it, which the read path then removes.
    block_times: tuple[tuple[datetime, str, str], ...] = ()
    _generators: _Generators = field(default_factory=_Generators, repr=False, compare=False)

    def generate(self, users: Sequence[ChunkUser]) -> list[UserOutput]:
        """Personal mixes and Release Radar of ``users`` (profiles or ``listener``s), made
        on request by the same compiled generators as a rebuild's, before the final filter."""
        with self._generators.current(self) as generator:
            return generator.generate(users)

    def warm_up(self) -> Engine:
        """Make the day's generator now (its arrays, the compiled code loaded or compiled),
        so that a server's first request for mixes does not pay for it. Returns itself."""
        with self._generators.current(self) as generator:
            generator.warm_up()
        return self

    def admit_in_order(
        self, user: ChunkUser | None, tracks: Sequence[MixTrack], seed: str, cap: int, limit: int
    ) -> list[MixTrack]:
        """A radio's drawn ``tracks`` held to the mixes' repetition rules
        (``BatchGenerator.admit_in_order``)."""
        with self._generators.current(self) as generator:
            return generator.admit_in_order(user, tracks, seed, cap, limit)

    def blocks_after(self, moment: datetime) -> dict[str, frozenset[str]]:
        """Artist -> the artists a curator blocked it with at or after ``moment`` (both ways;
        a block in the very instant a rebuild started may have missed it)."""
        times = self.block_times
        first = bisect.bisect_left(times, moment, key=lambda block: block[0])
        return blocked_partners((a, b) for _, a, b in times[first:])

    def regenerated(self, context: GenerationContext) -> Engine:
        """This engine over another context whose graph or blocks differ (a curator's edit
        previewed): with a generator of its own, whose arrays hold that context's blocks."""
        return replace(self, context=context, _generators=_Generators())

    def at(self, now: datetime) -> Engine:
        """The same engine generating as of ``now`` (for requests served later)."""
        return replace(self, context=replace(self.context, now=now))

    def profile(self, user_id: str) -> UserProfile:
        """A listener's profile; opted-out, unknown and erased users are not personalised
        (an erased user's history may linger in a model loaded before the erasure)."""
        if self.tombstones.erased(user_id):
            return anonymous(user_id, NO_EXCLUSIONS)
        exclusions = self.exclusions.get(user_id, NO_EXCLUSIONS)
        if user_id in self.optouts:
            return anonymous(user_id, exclusions)
        history = self.history.of(user_id)
        model = self.context.model
        factors = None
        if model is not None:
            row = model.users.index_of(user_id)
            factors = None if row is None else model.user_factors[row]
        if not history.track_ids:
            return UserProfile(
                user_id,
                False,
                follows=self.follows.get(user_id, frozenset()),
                exclusions=exclusions,
            )
        return UserProfile(
            user_id=user_id,
            personalised=True,
            history=history,
            follows=self.follows.get(user_id, frozenset()),
            exclusions=exclusions,
            factors=factors,
        )

    def listener(self, user_id: str) -> Listener:
        """What the generators read of a listener besides their history (which they read
        from ``history`` by id): not personalised, as in ``profile``, when erased, opted out
        or without a history."""
        if self.tombstones.erased(user_id):
            return Listener(user_id, frozenset(), NO_EXCLUSIONS, personalised=False)
        exclusions = self.exclusions.get(user_id, NO_EXCLUSIONS)
        row = self.history.users.index_of(user_id)
        if (
            user_id in self.optouts
            or row is None
            or self.history.indptr[row] == self.history.indptr[row + 1]
        ):
            return Listener(user_id, frozenset(), exclusions, personalised=False)
        return Listener(user_id, self.follows.get(user_id, frozenset()), exclusions)

    def known_users(self) -> list[str]:
        """Everyone the engine has data for: listeners, followers, excluders, opt-outs."""
        users = set(self.history.users.ids) | set(self.follows) | set(self.exclusions)
        return sorted(users | self.optouts)


def load_engine(
    conn: sqlite3.Connection,
    state_dir: Path,
    settings: Settings,
    now: datetime,
    *,
    pool_version: str | None = None,
    model_version: str | None = None,
) -> Engine:
    """The current engine, or (given both versions) the one a rebuild is about to publish."""
    if pool_version is not None:
        pool = read_snapshot(state_dir / SNAPSHOT_DIR, pool_version)
        version: str | None = model_version
    else:
        pool = load_current_pool(conn, state_dir)
        version = get_pointer(conn, MODEL_POINTER)
    model: ArtistModel | None = None
    if version is not None:
        model = load_model(state_dir / MODELS_DIR, version)
        history = load_history(state_dir / MODELS_DIR / version)
    else:
        history = ListeningHistory.empty()
    links = load_links(conn)
    graph: nx.Graph = build_similar_artist_graph(
        pool.artists, links, model.neighbours() if model is not None else {}, settings.graph
    )
    blocked = blocked_partners(link.pair for link in links if link.kind == "block")
    catalog: CatalogIndex = build_catalog_index(pool, history.track_listeners())
    weights = graph_weights(graph)
    context = GenerationContext(
        catalog=catalog,
        graph=graph,
        model=model,
        blocked=blocked,
        now=now,
        settings=settings.generators,
        weights=weights,
        scenes=find_scenes(weights, settings.generators.seed, settings.generators.scene_resolution),
    )
    gate = ServingGate(
        pool.version,
        frozenset(pool.tracks),
        load_serving_exclusions(conn, settings.ai, pool.version, pool.tracks),
    )
    return Engine(
        context=context,
        gate=gate,
        history=history,
        optouts=load_optouts(conn),
        follows=load_follows(conn),
        exclusions=load_exclusions(conn),
        tombstones=load_tombstones(conn, now),
        block_times=tuple(
            sorted((_aware(link.created_at), *link.pair) for link in links if link.kind == "block")
        ),
    )


def _aware(moment: datetime) -> datetime:
    """A stored timestamp without a zone is UTC (every clock here is)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
