"""The rebuild's generation on a real Dask cluster (a ``LocalCluster`` of worker processes).

The version it publishes is the single-machine rebuild's, byte for byte, for the same inputs;
a worker killed mid-rebuild and a chunk that fails once cost a retry, never a missing or
duplicated listener; a chunk that cannot land fails the rebuild and changes nothing served.
Faults are injected by a hook the workers run before each chunk, keyed by a marker file, so
that each fires exactly once whichever worker runs the chunk.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from pool.importer import POOL_POINTER
from pool.state import get_pointer
from recsys.jobs.cluster import ClusterRebuildError, cluster_generation
from recsys.settings import Settings
from recsys.state.schema import open_engine_state
from recsys.store.factory import open_store
from recsys.world import WorldConfig, generate_world
from tests.factories import grant_trust
from tests.recsys.api.world import NOW, TODAY, settings_for
from tests.recsys.cli_runner import run_cli
from tests.staff import trusted_rebuild

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cluster-world") / "data"
    generate_world(folder, WorldConfig(users=400, artists=60, seed=5, today=TODAY))
    return folder


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as found:
        yield found


@pytest.fixture(scope="module")
def local_payloads(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every listener's stored payload after a rebuild on this machine."""
    settings = settings_for(tmp_path_factory.mktemp("local") / "state")
    trusted_rebuild(settings, data, NOW, progress=_quiet, workers=1)
    return _payloads(settings)


def _quiet(done: int, total: int) -> None:
    pass


def _payloads(settings: Settings, users: Iterable[str] | None = None) -> dict[str, bytes]:
    """The current version's payload of every listener (of ``users``, read one by one as
    the server does, else all the embedded store holds)."""
    store = open_store(settings)
    try:
        version = store.current_version()
        assert version is not None
        if users is not None:
            return {user: payload for user in users if (payload := store.read_user(user))}
        rows = store.conn.execute(  # type: ignore[attr-defined]
            "SELECT user_id, payload FROM user_payloads WHERE version = ?", (version,)
        ).fetchall()
    finally:
        store.close()
    return {user: bytes(payload) for user, payload in rows}


def _rebuild_on(cluster: LocalCluster, settings: Settings, data: Path, hook: object = None) -> None:
    trusted_rebuild(
        settings,
        data,
        NOW,
        progress=_quiet,
        workers=1,
        generate=cluster_generation(cluster.scheduler_address, settings, hook=hook),  # type: ignore[arg-type]
    )


class FaultOnce:
    """Before chunk ``index``: the first time only (a marker file says), ``kill`` the worker
    process outright or raise."""

    def __init__(self, marker: Path, index: int, kill: bool) -> None:
        self.marker, self.index, self.kill = str(marker), index, kill
        marker.write_text("armed")

    def __call__(self, index: int) -> None:
        if index != self.index:
            return
        try:
            os.remove(self.marker)
        except FileNotFoundError:
            return  # fired already
        if self.kill:
            os._exit(1)  # the worker process dies mid-rebuild, its chunk unfinished
        raise RuntimeError("injected: this chunk fails once")


class AlwaysFails:
    def __call__(self, index: int) -> None:
        if index == 1:
            raise RuntimeError("injected: this chunk never lands")


def test_the_cluster_publishes_the_single_machine_rebuild(
    cluster: LocalCluster, data: Path, local_payloads: dict[str, bytes], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "state")
    _rebuild_on(cluster, settings, data)
    assert _payloads(settings) == local_payloads
    assert not list((settings.state_dir / "rebuilds").rglob("*.pickle"))  # engine file gone


@pytest.mark.redis
def test_workers_write_into_redis(
    cluster: LocalCluster,
    data: Path,
    local_payloads: dict[str, bytes],
    tmp_path: Path,
    redis_url: str,
) -> None:
    """Each worker writes its chunks into Redis under the rebuild's version itself."""
    settings = settings_for(tmp_path / "state", redis_url)
    _rebuild_on(cluster, settings, data)
    assert _payloads(settings, local_payloads) == local_payloads


@pytest.mark.parametrize("kill", [True, False], ids=["worker-killed", "chunk-fails-once"])
def test_a_lost_worker_or_failed_chunk_costs_a_retry(
    cluster: LocalCluster,
    data: Path,
    local_payloads: dict[str, bytes],
    tmp_path: Path,
    kill: bool,
) -> None:
    settings = settings_for(tmp_path / "state")
    hook = FaultOnce(tmp_path / "marker", index=1, kill=kill)
    _rebuild_on(cluster, settings, data, hook)
    assert not Path(hook.marker).exists(), "the fault fired"
    assert _payloads(settings) == local_payloads
    # The cluster has its two workers again for the next test (the nanny restarts one).
    with Client(cluster.scheduler_address) as client:
        client.wait_for_workers(2, timeout=60)


def test_the_cli_rebuilds_on_the_cluster(
    cluster: LocalCluster, data: Path, local_payloads: dict[str, bytes], tmp_path: Path
) -> None:
    """`recsys rebuild --data DIR --cluster ADDRESS`, as the cron job runs it."""
    state = tmp_path / "state"
    grant_trust(state, data)
    result = run_cli(
        "rebuild", "--data", data, "--cluster", cluster.scheduler_address, state_dir=state
    )
    assert result.code == 0, result.err
    assert "rebuild published store version" in result.out
    assert "stage pool done in" in result.err  # it talks while it runs (no terminal: lines)
    # Every listener stored (the CLI runs at today's date, so the bytes are not the fixture's).
    assert set(_payloads(settings_for(state))) == set(local_payloads)


def test_no_scheduler_answers(data: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "state")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"  # nobody listens there
    with pytest.raises(ClusterRebuildError, match="no Dask scheduler answers"):
        trusted_rebuild(
            settings,
            data,
            NOW,
            progress=_quiet,
            workers=1,
            generate=cluster_generation(address, settings, connect_timeout="1s"),
        )
    assert open_store(settings).current_version() is None  # nothing published


def test_a_chunk_that_cannot_land_changes_nothing_served(
    cluster: LocalCluster, data: Path, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "state")
    trusted_rebuild(settings, data, NOW, progress=_quiet, workers=1)
    conn = open_engine_state(settings.state_dir)
    try:
        pool_before = get_pointer(conn, POOL_POINTER)
    finally:
        conn.close()
    served = _payloads(settings)
    with pytest.raises(ClusterRebuildError, match="nothing was switched"):
        trusted_rebuild(
            settings,
            data,
            NOW.replace(hour=13),
            progress=_quiet,
            workers=1,
            generate=cluster_generation(
                cluster.scheduler_address, settings, hook=AlwaysFails(), retries=1
            ),
        )
    conn = open_engine_state(settings.state_dir)
    try:
        assert get_pointer(conn, POOL_POINTER) == pool_before
    finally:
        conn.close()
    assert _payloads(settings) == served
