"""The cron job: train, then generate every user's mixes and Release Radar into the store.

One rebuild at a time (an exclusive lock file in the state folder; a second one refuses at
once). Generation fans out over forked worker processes that share the loaded engine
copy-on-write, each writing its chunks of users through a store connection of its own.

Nothing the run produces is served before its one switch (``recsys.jobs.publish``): the new pool,
model and store version become current together, after every user was written and counted,
in one transaction on the state that also honours every erasure and exclusion made while the
run went on. If anything fails or the job is interrupted, the previous pool, model and mixes
stay served, and the run's model folder is removed. A rebuild starts by dropping what killed
runs left behind (store versions that never became current, model folders never published).
"""

from __future__ import annotations

import fcntl
import gc
import logging
import multiprocessing
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pool.state import get_pointer
from recsys.engine.loading import Engine, load_engine
from recsys.errors import RecsysError
from recsys.generators.batch import BatchGenerator, ChunkUser, UserOutput
from recsys.generators.batch_arrays import build_generation_arrays
from recsys.jobs.publish import (
    MODEL_POINTER,
    MODELS_DIR,
    MixesRelease,
    Release,
    discard_release,
    prune_models,
    publish_release,
)
from recsys.payload.codec import encode_user
from recsys.payload.encoder import PayloadEncoder
from recsys.serving.basis import listener_basis
from recsys.serving.final_filter import final_filter
from recsys.settings import Settings
from recsys.state.schema import open_engine_state
from recsys.store.base import MixStore, VersionWriter
from recsys.store.factory import open_store
from recsys.training.run import StageHook, StageTimer, run_training

log = logging.getLogger(__name__)
LOCK_FILE = "rebuild.lock"
# Files a rebuild writes for cluster workers to read (``recsys.jobs.cluster``), per version.
REBUILDS_DIR = "rebuilds"
# Listeners per chunk: large chunks amortise each chunk's fixed costs and keep the compiled
# generators' arrays in cache (a fifth faster at 2,048 than at 256 on a 100k-user world);
# chunks shrink towards the end, so no worker idles long while another finishes.
MAX_CHUNK_USERS = 2048
MIN_CHUNK_USERS = 256
CHUNKS_PER_WORKER = 4


class RebuildLockedError(RecsysError):
    """Another rebuild holds the lock."""


@contextmanager
def rebuild_lock(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    # Opened without truncating: a refused second run must not erase the running one's pid.
    with (state_dir / LOCK_FILE).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RebuildLockedError(
                f"another rebuild is running (lock {state_dir / LOCK_FILE}); not starting a second"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        global _LOCK_FD  # noqa: PLW0603 - forked workers must close it (see _forget_lock)
        _LOCK_FD = handle.fileno()
        try:
            yield
        finally:
            _LOCK_FD = None
            fcntl.flock(handle, fcntl.LOCK_UN)


# The lock's file descriptor while this process holds it. A flock belongs to the open file,
# which forked workers share: were they to keep it open, a rebuild killed with SIGKILL would
# stay locked until its orphaned workers noticed and exited, refusing the cron's retry.
_LOCK_FD: int | None = None


def _forget_lock() -> None:
    """Close the inherited lock descriptor (the lock stays the parent's)."""
    if _LOCK_FD is not None:
        os.close(_LOCK_FD)


def _start_worker() -> None:
    """Worker initializer: forget the lock, and open a store connection of the worker's own.
    Workers store what they generate themselves: sent back to the parent, every payload would
    be pickled, piped and unpickled, and the parent's writes would take CPU time from them."""
    global _WRITER  # noqa: PLW0603 - one writer per worker process
    _forget_lock()
    if _WRITER is None:
        raise RuntimeError("generate_all sets the writer before forking")
    _WRITER = _WRITER.for_worker()


@dataclass
class UserOutcome:
    mixes: int = 0
    tracks: int = 0
    empty_radars: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: int = 0


# The engine, generator and encoder of the current rebuild, set before forking so workers
# inherit them; and where this process stores what it generates.
_ENGINE: Engine | None = None
_GENERATOR: BatchGenerator | None = None
_ENCODER: PayloadEncoder | None = None
_WRITER: VersionWriter | None = None


def generate_user(engine: Engine, user_id: str) -> tuple[bytes, UserOutcome]:
    """A user's mixes and Release Radar, through the final filter, encoded for the store
    (what a rebuild stores for this user, made the ``Mix`` way)."""
    listener = engine.listener(user_id)
    (output,) = engine.generate([listener])
    return _finish(engine, listener, output)


def _finish(engine: Engine, user: ChunkUser, output: UserOutput) -> tuple[bytes, UserOutcome]:
    """A generated user through the final filter (as ``run_generator``), stamped with the
    basis of their answers, encoded."""
    outcome = UserOutcome(notes=output.notes)
    basis = listener_basis(engine, user)
    mixes = []
    for mix in output.mixes:
        filtered, removed = final_filter(mix.stamped(basis), engine.gate, user.exclusions)
        mixes.append(filtered)
        outcome.dropped.update(removed)
    radar, removed = final_filter(output.release_radar.stamped(basis), engine.gate, user.exclusions)
    outcome.dropped.update(removed)
    outcome.mixes = len(mixes)
    outcome.tracks = sum(len(m.tracks) for m in mixes) + len(radar.tracks)
    outcome.empty_radars = int(not radar.tracks)
    return encode_user(mixes, radar), outcome


def install_generation(generation: Generation | None, writer: VersionWriter | None) -> None:
    """Make ``generation`` and ``writer`` this process's (a cluster worker's, which loaded
    them itself), or forget them (None)."""
    global _ENGINE, _GENERATOR, _ENCODER, _WRITER  # noqa: PLW0603 - this process's generation
    if generation is None:
        _ENGINE = _GENERATOR = _ENCODER = None
    else:
        _ENGINE, _GENERATOR, _ENCODER = generation.engine, generation.generator, generation.encoder
    _WRITER = writer


def generate_chunk(users: Sequence[str]) -> tuple[int, UserOutcome]:
    """Generate and store a chunk of users (how many were stored, and what they hold) with
    this process's generation and writer (``generate_all``'s, or ``install_generation``'s)."""
    if _WRITER is None:
        raise RuntimeError("generate_all sets the writer before any chunk is generated")
    payloads, outcome = _chunk_payloads(users)
    _WRITER.put_many(payloads)
    return len(payloads), outcome


def _chunk_payloads(users: Sequence[str]) -> tuple[list[tuple[str, bytes]], UserOutcome]:
    """Payloads of a chunk of users: encoded from the compiled rows where the final filter
    changes nothing, through ``Mix`` values and the filter otherwise."""
    if _ENGINE is None or _GENERATOR is None or _ENCODER is None:
        raise RuntimeError("generate_all sets the engine before any chunk is generated")
    chunk = _GENERATOR.run([_ENGINE.listener(user_id) for user_id in users])
    encoded = _ENCODER.encode(chunk, [listener_basis(_ENGINE, user) for user in chunk.users])
    mixes, tracks, empty_radars, notes = encoded.totals()
    total = UserOutcome(mixes=mixes, tracks=tracks, empty_radars=empty_radars, notes=notes)
    payloads = encoded.payloads
    for position, payload in enumerate(payloads):
        if payload is None:
            output = _GENERATOR.output(chunk, position)
            payloads[position], outcome = _finish(_ENGINE, chunk.users[position], output)
            add_outcome(total, outcome)
    return [
        (user, payload) for user, payload in zip(users, payloads, strict=True) if payload
    ], total


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationJob:
    """Every listener of a rebuild to generate into its store ``version`` through ``writer``;
    the generation times its "prepare" stage and "generate" on ``timer``."""

    engine: Engine
    version: str
    users: Sequence[str]
    writer: VersionWriter
    progress: Progress
    timer: StageTimer


# How a rebuild generates: ``local_generation`` forks workers on this machine,
# ``recsys.jobs.cluster.cluster_generation`` fans out over a Dask cluster.
GenerateAll = Callable[[GenerationJob], UserOutcome]


@dataclass(frozen=True)
class Generation:
    """What generates and encodes a rebuild's users: made once, before workers fork."""

    engine: Engine
    generator: BatchGenerator
    encoder: PayloadEncoder


def compiled_code_cached() -> bool:
    """Whether numba's cache holds the compiled generators and payload assembly (else the
    next ``prepare_generation`` compiles them: a minute or two on a small machine, once per
    install or upgrade). A look at the cache's index files, nothing loaded."""
    from recsys.generators.batch_kernel import generate_chunk  # noqa: PLC0415
    from recsys.payload.assembly import assemble_payloads  # noqa: PLC0415

    for dispatcher in (generate_chunk, assemble_payloads):
        try:
            # Empty when absent, or written for another version of the source.
            overloads = dispatcher._cache._cache_file._load_index()
        except (AttributeError, OSError):  # another numba's internals: assume a compile
            return False
        if not overloads:
            return False
    return True


def prepare_generation(engine: Engine, *, cold: bool = False) -> Generation:
    """The engine as arrays, the compiled generators and payload assembly ready, and the
    catalogue's strings rendered: compiled here (or loaded from numba's cache, after the
    first run) and rendered once, not once in every worker. ``cold`` (numba's cache holds
    nothing yet): the payload assembly and the radios' rules are compiled in a forked child
    while this process compiles the generators, one on each core, then loaded here from the
    cache the child wrote."""
    arrays = build_generation_arrays(engine.context, engine.history)
    generator = BatchGenerator(engine.context, arrays, engine.history)
    encoder = PayloadEncoder(generator, engine.gate)
    if cold:

        def assembly() -> None:
            generator.admit_in_order(None, [], "", 1, 1)
            encoder.warm_up(generator.empty_chunk())  # what it renders stays in the child

        compile_side_by_side(generator.warm_up, assembly)
    encoder.warm_up(generator.warm_up())
    encoder.render_catalogue()
    return Generation(engine, generator, encoder)


def compile_side_by_side(here: Callable[[], object], there: Callable[[], object]) -> None:
    """Run ``there`` in a forked child while ``here`` runs in this process: numba compiles
    in one thread, so two cores compile two sets of functions at once, each writing its own
    to numba's cache. Whatever the child did not finish is compiled here later, as usual."""
    child = multiprocessing.get_context("fork").Process(target=there, name="recsys-compile")
    child.start()
    try:
        here()
    finally:
        child.join()


def generate_all(
    generation: Generation,
    users: Sequence[str],
    writer: VersionWriter,
    workers: int,
    progress: Progress,
) -> UserOutcome:
    """Generate every user in chunks over ``workers`` forked processes (1 = in process), each
    storing its chunks through ``writer`` (a worker through a connection of its own)."""
    install_generation(generation, writer)  # forked workers inherit it
    # The engine (millions of objects) is read-only from here on. Frozen, the cyclic garbage
    # collector stops walking it at every full collection (a fifth of the generation time on
    # a 20k-user world), and forked workers stop copying its pages to update its headers.
    gc.freeze()
    chunks = [users[start:stop] for start, stop in chunk_bounds(len(users), workers)]
    total = UserOutcome()
    done = 0
    try:
        if workers <= 1:
            for stored, outcome in map(generate_chunk, chunks):
                done += stored
                add_outcome(total, outcome)
                progress(done, len(users))
        else:
            context = multiprocessing.get_context("fork")
            with context.Pool(workers, initializer=_start_worker) as pool:
                for stored, outcome in pool.imap_unordered(generate_chunk, chunks):
                    done += stored
                    add_outcome(total, outcome)
                    progress(done, len(users))
    finally:
        install_generation(None, None)
        gc.unfreeze()
    return total


def local_generation(workers: int, announce: Callable[[str], None]) -> GenerateAll:
    """Generation on this machine over ``workers`` forked processes (1 = in process)."""

    def generate(job: GenerationJob) -> UserOutcome:
        cold = not compiled_code_cached()
        if cold:
            announce(COMPILE_NOTICE)
        generation = job.timer.run("prepare", lambda: prepare_generation(job.engine, cold=cold))
        started = time.perf_counter()
        outcome = generate_all(generation, job.users, job.writer, workers, job.progress)
        job.timer.seconds["generate"] = round(time.perf_counter() - started, 3)
        return outcome

    return generate


COMPILE_NOTICE = (
    "compiling the generators and the payload assembly (once after an install or"
    " upgrade: about half a minute here; later runs load them from numba's cache)"
)


def chunk_bounds(users: int, workers: int) -> list[tuple[int, int]]:
    """(start, stop) of each chunk of ``users`` over ``workers``: a share of what is left
    (``CHUNKS_PER_WORKER`` per worker), within ``MIN_CHUNK_USERS`` and ``MAX_CHUNK_USERS``."""
    bounds, start = [], 0
    while start < users:
        share = -(-(users - start) // (max(workers, 1) * CHUNKS_PER_WORKER))
        stop = min(users, start + max(MIN_CHUNK_USERS, min(MAX_CHUNK_USERS, share)))
        bounds.append((start, stop))
        start = stop
    return bounds


def add_outcome(total: UserOutcome, outcome: UserOutcome) -> None:
    total.mixes += outcome.mixes
    total.tracks += outcome.tracks
    total.empty_radars += outcome.empty_radars
    total.dropped.update(outcome.dropped)
    total.notes += outcome.notes


def _drop_leftovers(conn: sqlite3.Connection, state_dir: Path, store: MixStore) -> None:
    """What killed runs left (under the lock, so no run of ours is still writing): store
    versions that never became current, model folders that were never published, and the
    engine files of cluster runs."""
    dropped = store.drop_stale_versions()
    if dropped:
        log.info("dropped %d unfinished store version(s) of earlier runs", len(dropped))
    prune_models(state_dir / MODELS_DIR, keep=get_pointer(conn, MODEL_POINTER))
    shutil.rmtree(state_dir / REBUILDS_DIR, ignore_errors=True)


def store_version(model_version: str, now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{model_version.removeprefix('als-')[:12]}"


# The stages a rebuild times and names to its ``stage_hook``, in order (generation itself
# reports through ``progress``, after each chunk).
STAGES = (
    "pool",
    "links",
    "feeds",
    "listens",
    "fraud",
    "history",
    "als",
    "save",
    "load",
    "prepare",
    "switch",
)


@dataclass(frozen=True)
class _Published:
    version: str
    users: list[str]
    outcome: UserOutcome
    switch: dict[str, int]


def run_rebuild(
    settings: Settings,
    data_dir: Path,
    now: datetime,
    *,
    progress: Progress,
    workers: int,
    store: MixStore | None = None,
    allow_shrink: bool = False,
    stage_hook: StageHook | None = None,
    announce: Callable[[str], None] = log.warning,
    generate: GenerateAll | None = None,
) -> dict[str, Any]:
    """The whole cron job; returns its summary. Raises (nothing switched) on failure.

    ``stage_hook`` is called with each of ``STAGES`` just before it starts. ``announce`` is
    told, before the ``prepare`` stage, when that stage is about to compile the generators
    (the first run after an install), so the operator knows why it is slow. ``generate``:
    where listeners are generated (default: ``local_generation(workers, announce)``).
    """
    generate = generate or local_generation(workers, announce)
    timer = StageTimer(hook=stage_hook)
    state_dir = settings.state_dir
    with rebuild_lock(state_dir):
        store = store or open_store(settings)
        conn = open_engine_state(state_dir)
        try:
            _drop_leftovers(conn, state_dir, store)
            run = run_training(
                conn,
                state_dir,
                data_dir,
                settings,
                now,
                timer=timer,
                publish=False,
                max_shrink=settings.max_shrink(allow_shrink=allow_shrink),
            )
            # The run's catalog, listening history, plays and model are all on disk now and
            # loaded again as the engine: let them go before generation (at SPEC's scale they
            # are gigabytes, held twice in the parent and seen by every forked worker).
            summary, release = run.summary(), run.release
            del run
            try:
                published = _generate_and_switch(
                    conn, settings, release, store, now, timer, generate, progress
                )
            except BaseException:
                discard_release(conn, state_dir, release)
                raise
        finally:
            conn.close()
    version, users, outcome = published.version, published.users, published.outcome
    log.info("rebuild %s published: %d users", version, len(users))
    summary["store"] = {"name": store.name, "version": version}
    summary["generation"] = {
        "users": len(users),
        "mixes": outcome.mixes,
        "tracks": outcome.tracks,
        "empty_release_radars": outcome.empty_radars,
        "notes": outcome.notes,
        "tracks_excluded_by_final_filter": dict(sorted(outcome.dropped.items())),
        "users_per_second": round(len(users) / max(timer.seconds["generate"], 1e-9), 1),
        "workers": workers,
        "users_erased_during_run": published.switch["users_erased_during_run"],
    }
    summary["seconds"] = timer.seconds
    return summary


def _generate_and_switch(  # noqa: PLR0917 - the run's parts, passed once
    conn: sqlite3.Connection,
    settings: Settings,
    release: Release,
    store: MixStore,
    now: datetime,
    timer: StageTimer,
    generate: GenerateAll,
    progress: Progress,
) -> _Published:
    """Load the run's release, generate every user into a new store version, then switch;
    the unfinished version is dropped if anything fails."""
    engine = timer.run(
        "load",
        lambda: load_engine(
            conn,
            settings.state_dir,
            settings,
            now,
            pool_version=release.pool_version,
            model_version=release.model_version,
        ),
    )
    users = engine.known_users()
    version = store_version(engine.context.model_version, now)
    writer = store.begin(version)
    try:
        outcome = generate(GenerationJob(engine, version, users, writer, progress, timer))
        mixes = MixesRelease(store, writer, users)
        switch = timer.run(
            "switch",
            lambda: publish_release(
                conn,
                settings.state_dir,
                release,
                settings.ai,
                now,
                pool_tracks=engine.context.catalog.tracks,
                mixes=mixes,
            ),
        )
    except BaseException:
        writer.abort()
        raise
    return _Published(version, users, outcome, switch)
