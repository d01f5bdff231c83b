"""The rendered-answer cache: bounded in bytes, least recently used first, one generation."""

from __future__ import annotations

from recsys.api.reads import ResponseCache


def test_answers_of_an_older_generation_are_never_given_nor_kept() -> None:
    cache = ResponseCache(max_bytes=1000)
    cache.put("u1", 0, "none", b"old")
    assert cache.get("u1", 0, "none") == b"old"
    cache.new_generation(1)
    assert cache.get("u1", 0, "none") is None and len(cache) == 0
    cache.put("u1", 0, "none", b"computed before the change")  # refused: generation 0 is over
    assert cache.get("u1", 1, "none") is None
    cache.put("u1", 1, "none", b"new")
    assert cache.get("u1", 1, "none") == b"new"
    assert cache.get("u1", 1, "other exclusions") is None


def test_the_cache_stays_within_its_bytes_dropping_the_least_recently_used() -> None:
    cache = ResponseCache(max_bytes=10)
    cache.put("a", 0, None, b"aaaa")
    cache.put("b", 0, None, b"bbbb")
    assert cache.get("a", 0, None) == b"aaaa"  # a is now the most recently used
    cache.put("c", 0, None, b"cccc")
    assert cache.get("b", 0, None) is None
    assert cache.get("a", 0, None) == b"aaaa" and cache.get("c", 0, None) == b"cccc"
    cache.put("huge", 0, None, b"x" * 11)
    assert cache.get("huge", 0, None) is None and len(cache) == 2


def test_zero_bytes_turns_the_cache_off() -> None:
    cache = ResponseCache(max_bytes=0)
    cache.put("a", 0, None, b"a")
    assert cache.get("a", 0, None) is None
