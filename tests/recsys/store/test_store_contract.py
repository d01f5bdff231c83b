"""Both stores meet one contract: versions switch atomically after a count check, a failed
version never becomes current, erasure reaches every version, exclusions are one lookup."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recsys.domain.mix import PERSONAL_BASIS, Mix, MixTrack, Reason
from recsys.payload.codec import PAYLOAD_VERSION, decode_user, encode_user
from recsys.store.base import MixStore, StoreIntegrityError
from recsys.store.embedded import EmbeddedStore
from recsys.store.redis_store import RedisSettings, RedisStore

AT = datetime(2026, 11, 26, tzinfo=UTC)


def _payload(tag: str) -> bytes:
    mix = Mix(
        f"mix-{tag}",
        "mix",
        f"Mix {tag}",
        AT,
        "pool-1",
        "als-1",
        (
            MixTrack(
                "t1", ("a",), "One", Reason("history", {"artist_id": "a"}), artist_names=("A",)
            ),
        ),
    )
    return encode_user([mix.stamped(PERSONAL_BASIS)], None)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MixStore]:
    if request.param == "embedded":
        made: MixStore = EmbeddedStore(tmp_path)
    else:
        url = request.getfixturevalue("redis_url")
        made = RedisStore(url, RedisSettings(prefix="test:"))
    yield made
    made.close()


def test_payload_round_trip() -> None:
    document = decode_user(_payload("x"))
    assert document["v"] == PAYLOAD_VERSION
    assert document["mixes"][0]["tracks"] == [
        {
            "track_id": "t1",
            "artist_ids": ["a"],
            "artist_names": ["A"],
            "title": "One",
            "reason": {"type": "history", "via": {"artist_id": "a"}},
        }
    ]
    assert document["mixes"][0]["personalised"] is True
    assert document["mixes"][0]["basis"] == PERSONAL_BASIS
    assert document["release_radar"] is None


def test_payloads_of_the_first_format_are_still_read() -> None:
    """Written before titles were stored: read with empty metadata, for the pool to fill."""
    mix = {
        "mix_id": "mix-1",
        "kind": "mix",
        "title": "Mix 1",
        "generated_at": AT.isoformat(),
        "pool_version": "pool-1",
        "model_version": "als-1",
        "tracks": [["t1", "history", {"artist_id": "a"}]],
    }
    old = zlib.compress(json.dumps({"mixes": [mix], "release_radar": None}).encode())
    document = decode_user(old)
    assert document["v"] == 1
    assert document["mixes"][0]["tracks"] == [
        {
            "track_id": "t1",
            "artist_ids": [],
            "title": "",
            "reason": {"type": "history", "via": {"artist_id": "a"}},
        }
    ]


def test_a_committed_version_is_read_and_replaces_the_old(store: MixStore) -> None:
    assert store.current_version() is None
    assert store.read_user("u1") is None
    first = store.begin("v1")
    first.put_many([("u1", _payload("1")), ("u2", _payload("1"))])
    first.commit(2)
    assert store.current_version() == "v1"
    second = store.begin("v2")
    second.put_many([("u1", _payload("2"))])
    # Until the switch, readers still see v1.
    assert decode_user(store.read_user("u1") or b"")["mixes"][0]["mix_id"] == "mix-1"
    second.commit(1)
    assert decode_user(store.read_user("u1") or b"")["mixes"][0]["mix_id"] == "mix-2"
    assert store.read_user("u2") is None  # the old version is gone


def test_a_short_version_is_refused_and_the_old_stays(store: MixStore) -> None:
    good = store.begin("v1")
    good.put_many([("u1", _payload("1"))])
    good.commit(1)
    broken = store.begin("v2")
    broken.put_many([("u1", _payload("2"))])
    with pytest.raises(StoreIntegrityError, match="expected 2"):
        broken.commit(2)
    broken.abort()
    assert store.current_version() == "v1"
    assert decode_user(store.read_user("u1") or b"")["mixes"][0]["mix_id"] == "mix-1"


def test_erasure_reaches_every_version(store: MixStore) -> None:
    current = store.begin("v1")
    current.put_many([("gone", _payload("1")), ("stays", _payload("1"))])
    current.commit(2)
    pending = store.begin("v2")
    pending.put_many([("gone", _payload("2"))])
    store.delete_user("gone")
    assert store.read_user("gone") is None
    assert store.read_user("stays") is not None
    with pytest.raises(StoreIntegrityError):
        pending.commit(1)  # the erased user is no longer in the version being written


def test_excluded_tracks_are_replaced_whole(store: MixStore) -> None:
    store.replace_excluded_tracks(["t1", "t2"])
    assert store.excluded_among(["t1", "t3"]) == {"t1"}
    store.replace_excluded_tracks(["t3"])
    assert store.excluded_among(["t1", "t2", "t3"]) == {"t3"}
    store.replace_excluded_tracks([])
    assert store.excluded_among(["t3"]) == set()
    assert store.ping()


def test_a_failed_replacement_of_the_excluded_set_leaves_the_old_one(store: MixStore) -> None:
    """Replaced whole or not at all: a reader never meets the set emptied or half written."""
    store.replace_excluded_tracks(["t1", "t2"])

    def broken_feed() -> Iterator[str]:
        yield "t3"
        raise RuntimeError("the flag feed broke off")

    with pytest.raises(RuntimeError):
        store.replace_excluded_tracks(broken_feed())
    assert store.excluded_among(["t1", "t2", "t3"]) == {"t1", "t2"}


def test_a_change_made_by_another_process_counts_at_the_next_read(
    store: MixStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Readers answer ``excluded_among`` right after ``read_user`` (the read path), where the
    Redis store answers from its own copy of the set: a change made through another
    connection must still count at the very next read."""
    if store.name == "embedded":
        other: MixStore = EmbeddedStore(tmp_path)
    else:
        other = RedisStore(request.getfixturevalue("redis_url"), RedisSettings(prefix="test:"))
    version = store.begin("v1")
    version.put_many([("u1", _payload("1"))])
    version.commit(1)
    for withheld in (["t1"], [], ["t2", "t1"], ["t2"]):
        other.replace_excluded_tracks(withheld)
        assert store.read_user("u1") is not None
        assert store.excluded_among(["t1", "t3"]) == {"t1"} & set(withheld)
    other.close()
