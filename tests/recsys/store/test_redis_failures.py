"""Redis that does not answer: callers get StoreUnavailableError within the timeouts, never a
hang (a listening socket that never replies stands in for a black-holed connection)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from recsys.store.base import StoreUnavailableError
from recsys.store.redis_store import RedisSettings, RedisStore

FAST = RedisSettings(
    connect_timeout_s=0.2, socket_timeout_s=0.3, retries=1, backoff_base_s=0.01, backoff_cap_s=0.05
)


@pytest.fixture
def silent_port() -> Iterator[int]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel completes handshakes; nobody ever reads or answers
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def closed_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.mark.parametrize("which", ["silent_port", "closed_port"])
def test_unanswered_redis_fails_fast_and_clearly(
    request: pytest.FixtureRequest, which: str
) -> None:
    port = request.getfixturevalue(which)
    store = RedisStore(f"redis://127.0.0.1:{port}/0", FAST)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="Redis did not answer"):
        store.read_user("u1")
    assert time.monotonic() - started < 3.0
    assert store.ping() is False
    store.close()
