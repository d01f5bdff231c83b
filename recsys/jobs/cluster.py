"""A rebuild's generation fanned out over a Dask cluster (``recsys rebuild --cluster ADDRESS``).

Everything before generation (pool, listens, fraud screen, ALS, graph) stays on the machine
that runs the rebuild: ALS trains on one machine (``implicit`` is fastest there, on a CPU or
a GPU), and the rest are seconds to minutes. Generation is what grows with listeners, so that
is what goes to the cluster, following Dask's own advice:

* the engine the rebuild loaded (pool snapshot, model, graph, histories, per-user state) is
  written once, as a versioned file under the state folder, which every worker must be able to
  read (shared storage); a ``WorkerPlugin`` loads it once per worker, with the compiled
  generators and payload encoder, and again on a worker that joins later (a restarted one).
  Nothing big travels from the client per task: a task is a chunk of listener ids;
* chunks of thousands of listeners, each with ``retries``; each worker writes its chunks
  straight into the store under the rebuild's version (Redis pipelines, or the embedded file
  on one machine). A write is a put per listener, so a chunk run twice (a retry, or a worker
  lost after writing part of it) leaves each of its listeners once;
* the client counts every listener of every chunk and the store's commit checks that the
  version holds exactly that many; only then does the rebuild make it current with its one
  switch. A chunk that cannot land after its retries fails the rebuild and changes nothing
  served (SPEC invariant 7).

The engine file is a pickle: workers trust the state folder as the rebuild does (whoever can
write it can change the state anyway).
"""

from __future__ import annotations

import logging
import mmap
import pickle
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import Client, Future, WorkerPlugin, as_completed

from recsys.engine.loading import Engine
from recsys.errors import RecsysError
from recsys.jobs import rebuild
from recsys.settings import Settings
from recsys.store.base import MixStore
from recsys.store.factory import open_store

log = logging.getLogger(__name__)
ENGINE_FILE = "engine.pickle"
ARRAYS_FILE = "engine-arrays.bin"
ALIGNMENT = 64  # bytes: each array starts where any dtype may
PLUGIN_NAME = "recsys-rebuild-generation"
CHUNK_RETRIES = 3
# What a worker runs before each chunk (tests: deterministic faults); None in production.
ChunkHook = Callable[[int], None]


class ClusterRebuildError(RecsysError):
    """The cluster could not generate every listener: nothing was switched."""


def engine_path(state_dir: Path, version: str) -> Path:
    return state_dir / rebuild.REBUILDS_DIR / version / ENGINE_FILE


def write_engine(engine: Engine, path: Path) -> None:
    """The loaded engine, once, where every worker reads it: a pickle whose large arrays
    (histories, factors: protocol 5's out-of-band buffers) go to a file of their own, which
    workers map into memory instead of reading, so workers on one host share its pages. Each
    file is written aside and renamed, so a worker never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffers: list[pickle.PickleBuffer] = []
    stream = pickle.dumps(engine, protocol=5, buffer_callback=buffers.append)
    offsets, position = [], 0
    partial = _arrays_file(path).with_suffix(".partial")
    with partial.open("wb") as handle:
        for buffer in buffers:
            raw = buffer.raw()
            position += -position % ALIGNMENT
            handle.seek(position)
            handle.write(raw)
            offsets.append((position, raw.nbytes))
            position += raw.nbytes
    partial.replace(_arrays_file(path))
    partial = path.with_suffix(".partial")
    partial.write_bytes(pickle.dumps((offsets, stream), protocol=5))
    partial.replace(path)


def read_engine(path: Path) -> Engine:
    """The engine ``write_engine`` wrote, its large arrays mapped read-only from the file."""
    offsets, stream = pickle.loads(path.read_bytes())
    arrays = _arrays_file(path)
    views: list[memoryview] = []
    if arrays.stat().st_size:
        with arrays.open("rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        whole = memoryview(mapped)
        views = [whole[start : start + size] for start, size in offsets]
    else:
        views = [memoryview(b"") for _ in offsets]
    engine: Engine = pickle.loads(stream, buffers=views)
    return engine


def _arrays_file(path: Path) -> Path:
    return path.with_name(ARRAYS_FILE)


@dataclass
class _Loaded:
    version: str
    generation: rebuild.Generation
    store: MixStore


_LOADED: _Loaded | None = None  # this worker process's generation, set by the plugin


class GenerationPlugin(WorkerPlugin):
    """Loads the rebuild's engine, compiles (or loads from numba's cache) the generators and
    opens the worker's store writer: once per worker, before its first chunk."""

    name = PLUGIN_NAME

    def __init__(self, settings: Settings, version: str, engine_file: str) -> None:
        self.settings = settings
        self.version = version
        self.engine_file = engine_file

    def setup(self, worker: Any) -> None:
        global _LOADED  # noqa: PLW0603 - one generation per worker process
        if _LOADED is not None and _LOADED.version == self.version:
            return
        engine = read_engine(Path(self.engine_file))
        generation = rebuild.prepare_generation(engine)
        store = open_store(self.settings)  # this worker's own connection
        rebuild.install_generation(generation, store.begin(self.version))
        _LOADED = _Loaded(self.version, generation, store)
        log.info("worker ready for rebuild %s", self.version)

    def teardown(self, worker: Any) -> None:
        global _LOADED  # noqa: PLW0603
        if _LOADED is not None:
            _LOADED.store.close()
        _LOADED = None
        rebuild.install_generation(None, None)


def generate_chunk_task(
    version: str, index: int, users: Sequence[str], hook: ChunkHook | None
) -> tuple[int, rebuild.UserOutcome]:
    """One chunk on a worker: generated and written to the store; (listeners stored, outcome)."""
    if _LOADED is None or _LOADED.version != version:
        raise RuntimeError(f"this worker has not loaded rebuild {version}")
    if hook is not None:
        hook(index)
    return rebuild.generate_chunk(users)


CONNECT_TIMEOUT = "20s"


@contextmanager
def connected(address: str, timeout: str = CONNECT_TIMEOUT) -> Iterator[Client]:
    """A client of the cluster at ``address``, with a clear error when none answers."""
    try:
        client = Client(address, timeout=timeout)
    except OSError as error:
        raise ClusterRebuildError(
            f"no Dask scheduler answers at {address} ({error}); start one (`dask scheduler`,"
            " dask-kubernetes, dask-jobqueue) or run the rebuild without --cluster"
        ) from None
    try:
        yield client
    finally:
        client.close()


def cluster_generation(
    address: str,
    settings: Settings,
    *,
    hook: ChunkHook | None = None,
    retries: int = CHUNK_RETRIES,
    connect_timeout: str = CONNECT_TIMEOUT,
) -> rebuild.GenerateAll:
    """Generation over the Dask cluster whose scheduler is at ``address``."""

    def generate(job: rebuild.GenerationJob) -> rebuild.UserOutcome:
        with connected(address, connect_timeout) as client:
            return generate_on_cluster(client, settings, job, hook=hook, retries=retries)

    return generate


def generate_on_cluster(
    client: Client,
    settings: Settings,
    job: rebuild.GenerationJob,
    *,
    hook: ChunkHook | None = None,
    retries: int = CHUNK_RETRIES,
) -> rebuild.UserOutcome:
    """Every listener of ``job`` generated over the cluster's workers into its version."""
    users, version = job.users, job.version
    path = engine_path(settings.state_dir, version)
    plugin = GenerationPlugin(settings, version, str(path))

    def prepare() -> None:
        # Every connected worker loads the engine and the compiled code before this returns:
        # the "prepare" stage, as a local rebuild's; a worker joining later loads on joining.
        write_engine(job.engine, path)
        try:
            client.register_plugin(plugin, name=PLUGIN_NAME)
        except Exception as error:  # the first worker's failure, raised here by Dask
            raise ClusterRebuildError(
                f"the cluster's workers could not load the rebuild from {path}"
                f" ({type(error).__name__}: {error}); every worker must read the state folder"
                " (shared storage) and reach the store; nothing was switched"
            ) from error

    total = rebuild.UserOutcome()
    try:
        job.timer.run("prepare", prepare)
        started = time.perf_counter()
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        bounds = rebuild.chunk_bounds(len(users), workers)
        futures: list[Future] = client.map(
            generate_chunk_task,
            [version] * len(bounds),
            range(len(bounds)),
            [list(users[start:stop]) for start, stop in bounds],
            [hook] * len(bounds),
            retries=retries,
            pure=False,
            key=[f"recsys-chunk-{version}-{i}" for i in range(len(bounds))],
        )
        done = 0
        try:
            for future in as_completed(futures):
                try:
                    stored, outcome = future.result()
                except Exception as error:
                    raise ClusterRebuildError(
                        f"a chunk of listeners failed on the cluster after {retries} retries"
                        f" ({type(error).__name__}: {error}); nothing was switched"
                    ) from error
                done += stored
                rebuild.add_outcome(total, outcome)
                job.progress(done, len(users))
        finally:
            client.cancel(futures)
    finally:
        with suppress(KeyError, ValueError, OSError):
            client.unregister_worker_plugin(PLUGIN_NAME)
        shutil.rmtree(path.parent, ignore_errors=True)
    job.timer.seconds["generate"] = round(time.perf_counter() - started, 3)
    return total
