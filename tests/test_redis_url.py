"""The tests touch only their own Redis database: the one ``tests.conftest.REDIS_URL`` names
(env ``RECSYS_TEST_REDIS_URL``, by default database 14 on 127.0.0.1:6379), flushed before and
after each use.

A test file that hard-codes another URL (``redis://127.0.0.1:6379/15`` once) flushes a
database the README never mentions, which may be someone's data, and cannot be moved aside
when two test runs share a machine. These checks read every test file: a Redis URL may appear
only in ``tests/conftest.py``, or with its port taken from a variable (the tests that start a
``redis-server`` of their own, or listen on a port that never answers); the shared server's
port and redis-py's bare constructor (which connects to 127.0.0.1:6379, database 0) may not
appear at all.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# The one place that names the shared server, and this file, which must spell the patterns.
ALLOWED = {TESTS / "conftest.py", Path(__file__).resolve()}
# Benchmarks are scripts run on demand with their own --redis-url option, not tests.
NOT_TESTS = TESTS / "benchmarks"

URL = re.compile(r"\b(?:rediss?|unix)://[^\s\"'`]*")
OWN_SERVER = re.compile(r"^rediss?://[^/:{}]+:\{[^}]+\}")  # f"redis://127.0.0.1:{port}/0"
FORBIDDEN = {
    "the shared server's port": re.compile(r"\b6379\b"),
    "redis-py's bare constructor (127.0.0.1:6379, database 0)": re.compile(r"\b(?:Strict)?Redis\("),
}


def _test_files() -> list[Path]:
    return sorted(
        path
        for path in TESTS.rglob("*.py")
        if path not in ALLOWED and NOT_TESTS not in path.parents
    )


def hard_coded_redis(text: str) -> list[str]:
    """What in a test file's text names a Redis database other than through ``REDIS_URL``."""
    found = [url for url in URL.findall(text) if not OWN_SERVER.match(url)]
    found += [
        f"{what}: {match.group(0)!r}"
        for what, pattern in FORBIDDEN.items()
        for match in pattern.finditer(text)
    ]
    return found


def test_no_test_file_hard_codes_a_redis_url() -> None:
    files = _test_files()
    assert len(files) > 20  # the walk found the suite
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in files
        if (found := hard_coded_redis(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, (
        "use tests.conftest.REDIS_URL (the redis_url fixture, or empty_redis_db(REDIS_URL)) "
        f"instead: {offenders}"
    )


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ('REDIS_URL = "redis://127.0.0.1:6379/15"', True),
        ("url = 'rediss://cache.internal/2'", True),
        ('RedisStore("unix:///run/redis.sock?db=3", settings)', True),
        ("client = redis.Redis(port=6379, db=15)", True),
        ("client = redis.Redis()", True),
        ('self.url = f"redis://127.0.0.1:{self.port}/0"', False),
        ('RedisStore(f"redis://127.0.0.1:{port}/0", FAST)', False),
        ('RedisStore(f"redis://127.0.0.1:{closed_port()}/0", FAST)', False),
        ("client = redis.Redis.from_url(redis_url)", False),
        ("with empty_redis_db(REDIS_URL) as url:", False),
        ("server = PrivateRedis(binary, folder)", False),
    ],
)
def test_the_check_catches_hard_coded_urls_and_allows_the_others(text: str, caught: bool) -> None:
    assert bool(hard_coded_redis(text)) is caught


def test_the_url_comes_from_the_environment_with_database_14_by_default() -> None:
    def url_under(env: dict[str, str]) -> str:
        environ = {k: v for k, v in os.environ.items() if k != conftest.REDIS_URL_ENV}
        completed = subprocess.run(
            [sys.executable, "-c", "from tests.conftest import REDIS_URL; print(REDIS_URL)"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environ | env,
            check=True,
        )
        return completed.stdout.strip()

    assert conftest.DEFAULT_REDIS_URL == "redis://127.0.0.1:6379/14"
    assert url_under({}) == conftest.DEFAULT_REDIS_URL
    assert url_under({conftest.REDIS_URL_ENV: "redis://10.0.0.7:6380/3"}) == (
        "redis://10.0.0.7:6380/3"
    )


def _closed_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def test_no_redis_skips_and_fails_where_redis_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nobody = f"redis://127.0.0.1:{_closed_port()}/14"
    monkeypatch.delenv("RECSYS_REQUIRE_REDIS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Redis at"), conftest.empty_redis_db(nobody):
        pass
    monkeypatch.setenv("RECSYS_REQUIRE_REDIS", "1")
    with (
        pytest.raises(pytest.fail.Exception, match="Redis is required"),
        conftest.empty_redis_db(nobody),
    ):
        pass
