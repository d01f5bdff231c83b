"""Shared fixtures: a real Redis server for the store tests (required under CI).

Every test that talks to the shared Redis uses the one database ``REDIS_URL`` names: env
``RECSYS_TEST_REDIS_URL``, by default ``redis://127.0.0.1:6379/14``. The tests flush it before
and after each use, so point it at a database nothing else keeps data in (two test runs at once
on one machine need a database each). Tests that start a ``redis-server`` of their own, or
point at a port nobody answers on, build their URL from that port instead;
``tests/test_redis_url.py`` holds every test file to that rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

REDIS_URL_ENV = "RECSYS_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
REDIS_URL = os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL


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
    """``REDIS_URL``, flushed before and after the test (modules that keep one database for
    several tests use ``empty_redis_db(REDIS_URL)`` in a fixture of their own scope)."""
    with empty_redis_db(REDIS_URL) as url:
        yield url
