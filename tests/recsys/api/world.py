"""A small world rebuilt once per test session, and a real `recsys serve` process over it.

Each test module copies the rebuilt state, so edits made through one module's server never
leak into another's.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from recsys.settings import Settings, load_settings
from recsys.state.schema import open_engine_state
from recsys.state.tokens import add_token, ensure_tokens_schema
from recsys.store.base import MixStore
from recsys.store.factory import open_store
from recsys.world import WorldConfig, generate_world
from tests.staff import trusted_rebuild

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
ROLES = ("app", "curator", "trust", "admin")


@dataclass(frozen=True)
class RebuiltWorld:
    data: Path
    state: Path


def settings_for(state: Path, store_url: str = "embedded") -> Settings:
    return load_settings(
        None, {"RECSYS_STATE_DIR": str(state), "RECSYS_STORE": store_url}, state.parent
    )


def rebuild_world(root: Path, store_url: str = "embedded") -> RebuiltWorld:
    data = root / "data"
    if not data.exists():
        generate_world(data, WorldConfig(users=300, artists=60, seed=3, today=TODAY))
    settings = settings_for(root / "state", store_url)
    store: MixStore = open_store(settings)
    try:
        trusted_rebuild(
            settings, data, NOW, progress=lambda done, total: None, workers=1, store=store
        )
    finally:
        store.close()
    return RebuiltWorld(data, root / "state")


def copy_state(world: RebuiltWorld, to: Path) -> Path:
    shutil.copytree(world.state, to)
    return to


def make_tokens(state: Path) -> dict[str, str]:
    """One token per role, named after it: {"curator": secret, ...}."""
    conn = open_engine_state(state)
    try:
        ensure_tokens_schema(conn)
        return {
            role: add_token(conn, f"test-{role}", role, by="tests", why="fixture", now=NOW)
            for role in ROLES
        }
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    state: Path, log_file: Path, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """`python -m recsys -v serve` on a free port; yields its base URL once /healthz answers."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    environ |= {"RECSYS_STATE_DIR": str(state), **(env or {})}
    command = [sys.executable, "-m", "recsys", "-v", "serve", "--port", str(port)]
    with log_file.open("wb") as log:
        server = subprocess.Popen(
            command, env=environ, cwd=state.parent, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base, server, log_file)
        yield base
    finally:
        stop_server(server)


def _wait_until_healthy(base: str, server: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"recsys serve exited with {server.returncode}:\n{log_file.read_text()}"
            )
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"recsys serve did not become healthy:\n{log_file.read_text()}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Ask a server process to stop; kill it if it has not within 15 s."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=5)
