"""The same read path through a real server process, with the mixes in Redis.

Uses the tests' Redis database (``tests.conftest.REDIS_URL``: env ``RECSYS_TEST_REDIS_URL``,
by default database 14), flushed before and after. Skips when no Redis answers, except where
``RECSYS_REQUIRE_REDIS=1`` (CI): there it fails, so the Redis path cannot go untested.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_URL, empty_redis_db
from tests.recsys.api.read_checks import check_read_path
from tests.recsys.api.world import RebuiltWorld, rebuild_world, running_server

pytestmark = [pytest.mark.redis, pytest.mark.e2e]


@pytest.fixture(scope="module")
def redis_db() -> Iterator[str]:
    with empty_redis_db(REDIS_URL) as url:
        yield url


@pytest.fixture(scope="module")
def redis_server(
    rebuilt_world: RebuiltWorld, redis_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("api-redis")
    shutil.copytree(rebuilt_world.data, root / "data")  # same world, rebuilt into Redis
    world = rebuild_world(root, redis_db)
    with running_server(world.state, root / "server.log", {"RECSYS_STORE": redis_db}) as base:
        yield base


def test_the_listener_read_path_over_redis(redis_server: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=redis_server, timeout=30) as client:
        check_read_path(client, "redis")
