"""Shared fixtures: a real Redis server for the store tests (required under CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("RECSYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real, empty Redis database; fails under CI (RECSYS_REQUIRE_REDIS=1) when none answers,
    skips elsewhere."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1.0)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        if os.environ.get("RECSYS_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis is required here and does not answer at {REDIS_URL}: {error}")
        pytest.skip(f"no Redis at {REDIS_URL} ({error}); start redis-server to run this test")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
