"""Shared fixtures: a real Redis server for the store tests (required under CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

REDIS_URL = os.environ.get("RECSYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@contextmanager
def empty_redis_db(url: str) -> Iterator[str]:
    """A real Redis database, flushed before and after; fails under CI
    (RECSYS_REQUIRE_REDIS=1) when none answers, skips elsewhere."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1.0)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        if os.environ.get("RECSYS_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis is required here and does not answer at {url}: {error}")
        pytest.skip(f"no Redis at {url} ({error}); start redis-server to run this test")
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    with empty_redis_db(REDIS_URL) as url:
        yield url
