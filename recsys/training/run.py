"""One training run: import → pool → listens → fraud screen → history → ALS → similar-artist graph.

The edge that sequences the pure stages and saves their artefacts (versioned,
content-addressed). With ``publish`` (``recsys train``) the new pool and model become current
together at the end, through the one switch of ``recsys.jobs.publish``; a rebuild publishes them
later, at its own switch, together with the mixes. Either way, a run that fails changes
nothing that is served. Stage timing uses the clock passed in, so the core stays free of it;
a ``StageTimer`` hook lets tests act between stages (an erasure during the listens stage).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import networkx as nx
import scipy.sparse as sp

from pool.bulk import gc_paused
from pool.catalog import Catalog
from pool.feeds import good_rows, read_jsonl
from pool.importer import DEFAULT_MAX_SHRINK, ImportResult, import_data_dir, load_current_pool
from pool.model import FeedIssue
from pool.snapshot import PoolSnapshot
from pool.state import get_pointer, transaction
from recsys.curation.links import parse_link_row
from recsys.curation.store import import_links, load_links
from recsys.domain.vocabulary import Vocabulary
from recsys.embeddings.artist_model import ArtistModel, load_model, save_model, train_artist_model
from recsys.embeddings.tag_space import artist_tag_counts, tag_vectors
from recsys.errors import RecsysError
from recsys.graph.similar_artists import build_similar_artist_graph
from recsys.jobs.publish import MODEL_POINTER, MODELS_DIR, Release, publish_release
from recsys.listening.fraud import FraudRules, FraudVerdict, screen_listens
from recsys.listening.history import ListeningHistory, build_history, save_history
from recsys.listening.reader import ListenLog, ListenReport, read_listens
from recsys.listening.training import artist_play_matrix, track_facts
from recsys.settings import Settings
from recsys.state.privacy import load_tombstones
from recsys.state.user_feeds import UserFeeds, read_user_feeds
from recsys.state.users import import_user_feeds, load_optouts
from recsys.training.freed_memory import return_freed_memory

log = logging.getLogger(__name__)

LINKS_FILE = "curation/links.jsonl"
T = TypeVar("T")
StageHook = Callable[[str], None]


@dataclass
class StageTimer:
    """Seconds per named stage, for the run's summary; ``hook`` is called with each stage's
    name just before it starts (tests use it to act at a precise point of a run)."""

    clock: Callable[[], float] = time.perf_counter
    seconds: dict[str, float] = field(default_factory=dict)
    hook: StageHook | None = None

    def run(self, name: str, stage: Callable[[], T]) -> T:
        if self.hook is not None:
            self.hook(name)
        started = self.clock()
        result = stage()
        self.seconds[name] = round(self.clock() - started, 3)
        log.info("stage %s took %.2f s", name, self.seconds[name])
        return result


@dataclass(frozen=True)
class TrainingRun:
    pool: ImportResult
    links_added: int
    feed_issues: tuple[FeedIssue, ...]  # of the links and user feeds (the pool reports its own)
    listens: ListenReport
    fraud: FraudVerdict
    fraud_users: int
    flagged_user_ids: frozenset[str]
    model: ArtistModel
    history: ListeningHistory
    plays: sp.csr_matrix  # the screened users x artists plays the model was trained on
    timings: dict[str, float]
    release: Release  # the pool and model this run wrote (current only once published)

    def summary(self) -> dict[str, Any]:
        return {
            "pool": self.pool.build.report.summary(max_issues=5),
            "links_added": self.links_added,
            "feed_issues": len(self.feed_issues),
            "first_feed_issues": [str(i) for i in self.feed_issues[:10]],
            "listens": self.listens.summary(),
            "fraud": self.fraud.summary(self.fraud_users),
            "model": {
                "version": self.model.version,
                "users": len(self.model.users),
                "artists": len(self.model.artists),
                "factors": self.model.settings.factors,
            },
            "seconds": self.timings,
        }


def _memory_returned(stage: Callable[[], T]) -> Callable[[], T]:
    """``stage``, then what it freed handed back to the system (``return_freed_memory``).
    For the stages that work on threads: glibc gives each thread an arena of its own, whose
    freed memory the main thread's later stages never reuse. Not after every stage: memory
    the main thread freed is reused by the next stage, and handed back it must be faulted in
    again (the history and loading stages took 9-16% longer so on a 100,000-user world)."""

    def run() -> T:
        result = stage()
        return_freed_memory()
        return result

    return run


def _screen(
    listens: ListenLog,
    catalog: Catalog,
    rejected: Mapping[str, tuple[str, ...]],
    rules: FraudRules,
    threads: int,
) -> FraudVerdict:
    """The fraud screen, with the facts about each track it reads."""
    return screen_listens(listens, track_facts(listens, catalog, rejected), rules, threads=threads)


def _plays_and_history(
    listens: ListenLog, verdict: FraudVerdict, snapshot: PoolSnapshot
) -> tuple[tuple[sp.csr_matrix, Vocabulary, Vocabulary], ListeningHistory]:
    """The screened plays as the model's users x artists matrix and as each listener's
    history: one stage."""
    return (
        artist_play_matrix(listens, verdict, snapshot),
        build_history(listens, verdict, snapshot),
    )


def _import_user_feeds(conn: sqlite3.Connection, data_dir: Path, now: datetime) -> UserFeeds:
    """Read the opt-outs, follows and exclusions and keep them in the state: two million
    follows at SPEC's scale, a stage of its own, so that a rebuild's display does not count
    its time to the links before it."""
    feeds = read_user_feeds(data_dir)
    with transaction(conn):
        # Erased users' rows are left out here (an old export must not bring them back).
        import_user_feeds(conn, feeds.optouts, feeds.exclusions, feeds.follows, now)
    return feeds


def _import_links(
    conn: sqlite3.Connection, data_dir: Path, now: datetime
) -> tuple[int, tuple[FeedIssue, ...]]:
    issues: list[FeedIssue] = []
    path = data_dir / LINKS_FILE
    if not path.is_file():
        return 0, ()
    links = list(good_rows(read_jsonl(path, LINKS_FILE, parse_link_row), issues))
    with transaction(conn):
        added = import_links(conn, links, now)
    return added, tuple(issues)


def pool_artist_tags(pool: PoolSnapshot) -> dict[str, list[str]]:
    """Every tag use on each artist's pool tracks (a tag on ten tracks counts ten times)."""
    tags: dict[str, list[str]] = {}
    for track in pool.tracks.values():
        for artist in track.artist_ids:
            tags.setdefault(artist, []).extend(track.tags)
    return tags


def run_training(
    conn: sqlite3.Connection,
    state_dir: Path,
    data_dir: Path,
    settings: Settings,
    now: datetime,
    *,
    timer: StageTimer | None = None,
    publish: bool = True,
    max_shrink: float | None = DEFAULT_MAX_SHRINK,
) -> TrainingRun:
    """Import ``data_dir`` and train. With ``publish`` the new pool and model become current
    at the end (one switch); otherwise the caller publishes ``TrainingRun.release``. The
    previous pool and model stay current if anything fails."""
    timer = timer or StageTimer()
    # Read first: anyone erased after this is removed again at the switch.
    erased = load_tombstones(conn, now)
    imported = timer.run(
        "pool",
        lambda: import_data_dir(
            conn, state_dir, data_dir, settings.ai, now, max_shrink=max_shrink, publish=False
        ),
    )
    links_added, link_issues = timer.run("links", lambda: _import_links(conn, data_dir, now))
    feeds = timer.run("feeds", lambda: _import_user_feeds(conn, data_dir, now))
    optouts = load_optouts(conn)
    catalog, build = imported.catalog, imported.build
    threads = settings.listening.thread_count(os.cpu_count())
    with gc_paused():
        listens, listen_report = timer.run(
            "listens",
            _memory_returned(
                partial(
                    read_listens,
                    data_dir,
                    catalog.tracks,
                    excluded_users=optouts,
                    erased_users=erased,
                    threads=threads,
                )
            ),
        )
    verdict = timer.run(
        "fraud",
        _memory_returned(
            partial(
                _screen, listens, catalog, build.report.rejected_tracks, settings.fraud, threads
            )
        ),
    )
    (plays, users, artists), history = timer.run(
        "history", partial(_plays_and_history, listens, verdict, build.snapshot)
    )
    if plays.nnz == 0:
        raise RecsysError(f"{data_dir}: no listens of pool tracks survived screening; no model")
    flagged = frozenset(listens.users.id_of(int(u)) for u in verdict.flagged_users.nonzero()[0])
    fraud_users = len(listens.users)
    # Everything training needs from the log is in the play matrix and the history now: at
    # SPEC's scale the log is gigabytes, better given back before ALS than held to the end.
    del listens
    model = timer.run(
        "als",
        lambda: train_artist_model(
            plays,
            users,
            artists,
            settings.als,
            neighbours=settings.graph.als_neighbours,
            artist_tags=tag_vectors(
                artist_tag_counts(artists, pool_artist_tags(build.snapshot))[0]
            ),
            neighbour_tag_weight=settings.graph.tag_weight,
        ),
    )
    folder = timer.run("save", lambda: save_model(state_dir / MODELS_DIR, model))
    save_history(folder, history)
    release = Release(build.snapshot.version, model.version, erased.hashes)
    if publish:
        timer.run(
            "publish",
            lambda: publish_release(
                conn, state_dir, release, settings.ai, now, pool_tracks=build.snapshot.tracks
            ),
        )
    return TrainingRun(
        pool=imported,
        links_added=links_added,
        feed_issues=link_issues + feeds.issues,
        listens=listen_report,
        fraud=verdict,
        fraud_users=fraud_users,
        flagged_user_ids=flagged,
        model=model,
        history=history,
        plays=plays,
        timings=timer.seconds,
        release=release,
    )


def load_current_model(conn: sqlite3.Connection, state_dir: Path) -> ArtistModel:
    version = get_pointer(conn, MODEL_POINTER)
    if version is None:
        raise RecsysError("no model has been trained yet: run `recsys train --data DIR`")
    return load_model(state_dir / MODELS_DIR, version)


def load_current_graph(conn: sqlite3.Connection, state_dir: Path, settings: Settings) -> nx.Graph:
    """The graph from the current pool, the current links and the current model's neighbours.

    Links are read at call time, so a curator's edit changes the next radio without retraining.
    """
    pool = load_current_pool(conn, state_dir)
    version = get_pointer(conn, MODEL_POINTER)
    neighbours = {} if version is None else load_current_model(conn, state_dir).neighbours()
    return build_similar_artist_graph(pool.artists, load_links(conn), neighbours, settings.graph)
