"""The columnar reader and the compiled fraud screen against the code they replaced.

``reference_reader`` and ``reference_fraud`` are the implementations before columnar ingestion.
For the same input the new ones must give the same vocabularies (in the same order), arrays,
reports (every issue with its file and line) and verdicts: on a generated world, on its files
with bad rows of every kind spliced in, on rows drawn by Hypothesis from good and bad field
values, and on logs built to tie and loop.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys.domain.vocabulary import Vocabulary
from recsys.listening import reader
from recsys.listening.fraud import FraudRules, FraudVerdict, TrackFacts, screen_listens
from recsys.listening.reader import ListenLog, read_listens
from recsys.world import WorldConfig, generate_world
from tests.recsys.listening import reference_fraud, reference_reader

HEADER = "user_id,track_id,played_at,ms_played,plays"
ARRAYS = ("user", "track", "day", "ms_played", "plays")


class World:
    """A small generated data directory and what the reader is given with it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog: dict[str, dict[str, Any]] = {}
        with (root / "catalog" / "tracks.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                track = json.loads(line)
                self.catalog[track["track_id"]] = track
        optouts = (root / "optouts.csv").read_text(encoding="utf-8").split()[1:]
        self.excluded = frozenset(optouts)
        users = sorted({line.split(",", 1)[0] for line in self.lines("part-0000.csv")[1:]})
        self.erased = frozenset(users[::37])

    def lines(self, name: str) -> list[str]:
        return (self.root / "listens" / name).read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("columnar") / "world"
    generate_world(root, WorldConfig(users=1200, artists=120, seed=7, today=date(2026, 11, 26)))
    return World(root)


def _read_both(
    root: Path,
    catalog: object,
    *,
    excluded: frozenset[str] = frozenset(),
    erased: frozenset[str] = frozenset(),
    chunk_bytes: int = reader.CHUNK_BYTES,
    piece_lines: int = reader.PIECE_LINES,
) -> tuple[tuple[ListenLog, reader.ListenReport], tuple[Any, Any]]:
    tracks: Any = catalog
    with (
        patch.object(reader, "CHUNK_BYTES", chunk_bytes),
        patch.object(reader, "PIECE_LINES", piece_lines),
    ):
        serial = read_listens(root, tracks, excluded_users=excluded, erased_users=erased)
        # Blocks parsed ahead on three threads: the very same log and report.
        new = read_listens(root, tracks, excluded_users=excluded, erased_users=erased, threads=3)
    _assert_same_reading(new, serial)
    old = reference_reader.read_listens(root, tracks, excluded_users=excluded, erased_users=erased)
    return new, old


def _assert_same_reading(new: tuple[ListenLog, reader.ListenReport], old: tuple[Any, Any]) -> None:
    (log, report), (old_log, old_report) = new, old
    assert list(log.users.ids) == list(old_log.users.ids)
    assert list(log.tracks.ids) == list(old_log.tracks.ids)
    for name in ARRAYS:
        got, expected = getattr(log, name), getattr(old_log, name)
        assert got.dtype == expected.dtype, name
        np.testing.assert_array_equal(got, expected, err_msg=name)
    assert [str(issue) for issue in report.issues] == [str(issue) for issue in old_report.issues]
    assert report.summary() == old_report.summary()


@pytest.mark.parametrize("chunk_bytes", [700, 1 << 16, 32 << 20])
def test_a_generated_world_reads_the_same(world: World, chunk_bytes: int) -> None:
    new, old = _read_both(
        world.root,
        world.catalog,
        excluded=world.excluded,
        erased=world.erased,
        chunk_bytes=chunk_bytes,
    )
    _assert_same_reading(new, old)
    log, report = new
    # The world must exercise what is compared: rows dropped for each reason, many kept.
    assert len(log) > 30_000
    assert report.opted_out_rows > 0
    assert report.erased_rows > 0


# Each turns a good line (user, track, played_at, ms_played, plays) into another line, good or
# bad, of a kind a feed can carry.
def _set(column: int, value: str) -> Callable[[list[str]], str]:
    def mutate(fields: list[str]) -> str:
        return ",".join([*fields[:column], value, *fields[column + 1 :]])

    return mutate


MUTATIONS: list[Callable[[list[str]], str]] = [
    _set(2, "yesterday"),
    _set(2, "2026-11-01T02:00:00+05:00"),  # the UTC day before its date part
    _set(2, "2024-02-29T10:00:00Z"),
    _set(2, "2023-02-29T10:00:00Z"),
    _set(2, "2026-11-01T24:00:00Z"),
    _set(2, "2026-11-01T10:60:00Z"),
    _set(2, "2026-13-01T10:00:00Z"),
    _set(2, "0000-01-01T10:00:00Z"),
    _set(2, "2026-11-01T10:00:00.250Z"),
    _set(2, "2026-11-01"),
    _set(2, "20261101"),
    _set(2, "2026-11-01 10:00:00Z"),
    _set(2, "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
    _set(3, "0x10"),
    _set(3, " 5000"),
    _set(3, "+5000"),
    _set(3, "-5"),
    _set(3, "1_000"),
    _set(3, "٥٠٠٠"),  # Arabic-Indic digits: Python's int reads them
    _set(3, "99999999999999999999"),
    _set(3, ""),
    _set(4, "0"),
    _set(4, "100001"),
    _set(4, "1.0"),
    lambda f: ",".join([f'"{f[0]}"', *f[1:]]),
    lambda f: ",".join([f'"{f[0]},x"', *f[1:]]),
    lambda f: ",".join([f'"{f[0]}', *f[1:]]),
    lambda f: ",".join(f) + "\r",
    lambda f: ",".join(f[:2]) + "\r," + ",".join(f[2:]),
    lambda f: ",".join(f) + "\n",  # a blank line after it
    lambda f: ",".join(f) + "\n   ",  # and a line of spaces
    lambda f: ",".join([*f, "extra"]),
    lambda f: ",".join(f[:4]),
    lambda f: ",".join([f[0] + "\udcff", *f[1:]]),  # written as the byte 0xff
    lambda f: ",".join(["\ufeff" + f[0], *f[1:]]),
    lambda f: ",".join([" " + f[0], *f[1:]]),
    lambda f: ",".join(["u" * 129, *f[1:]]),
    lambda f: ",".join([f[0] + "ü", *f[1:]]),
    lambda f: ",".join([f[0], "tr_not_in_catalog", *f[2:]]),
    lambda f: ",".join(["", *f[1:]]),
]


def _spliced(lines: list[str], rng: random.Random, share: float) -> Iterator[str]:
    yield lines[0]
    for line in lines[1:]:
        if rng.random() < share:
            yield rng.choice(MUTATIONS)(line.split(","))
        else:
            yield line


@pytest.mark.parametrize(("chunk_bytes", "piece_lines"), [(900, 3), (1 << 16, 50), (8 << 20, 4096)])
def test_files_with_bad_rows_read_the_same(
    world: World, tmp_path: Path, chunk_bytes: int, piece_lines: int
) -> None:
    rng = random.Random(chunk_bytes)
    (tmp_path / "listens").mkdir()
    for name, share in (("part-0000.csv", 0.004), ("part-0001.csv", 0.0)):
        lines = world.lines(name)
        text = "\n".join(_spliced(lines, rng, share)) + "\n"
        data = text.encode("utf-8", errors="surrogateescape")
        (tmp_path / "listens" / name).write_bytes(data)
    crlf = "\r\n".join(world.lines("part-0001.csv")[:500]) + "\r\n"
    (tmp_path / "listens" / "spreadsheet.csv").write_bytes(b"\xef\xbb\xbf" + crlf.encode())
    new, old = _read_both(
        tmp_path,
        world.catalog,
        excluded=world.excluded,
        erased=world.erased,
        chunk_bytes=chunk_bytes,
        piece_lines=piece_lines,
    )
    _assert_same_reading(new, old)
    _, report = new
    assert report.bad_rows > 50
    assert len(report.issues_by_field) >= 6


FIELD_VALUES = {
    "user_id": ["u1", "u2", "u3", "optout", "erased", "", " u1", "ü", "u\x00", "u1,u2"],
    "track_id": ["t1", "t2", "t3", "ghost", "t\t", "t1 "],
    "played_at": [
        "2026-11-01T10:00:00Z",
        "2026-11-30T23:59:59Z",
        "2026-11-01T00:30:00+01:00",
        "2026-02-29T10:00:00Z",
        "2028-02-29T10:00:00Z",
        "2026-11-01",
        "9999-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "never",
    ],
    "ms_played": ["200000", "1", "0", "-1", "0x2", "86400001", "٣", " 7"],
    "plays": ["1", "2", "100000", "100001", "0", "x"],
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.fixed_dictionaries({k: st.sampled_from(v) for k, v in FIELD_VALUES.items()}),
        min_size=1,
        max_size=30,
    ),
    columns=st.permutations(list(FIELD_VALUES)),
    quote=st.booleans(),
    chunk_bytes=st.sampled_from([1, 64, 1 << 20]),
)
def test_drawn_rows_read_the_same(
    tmp_path: Path, rows: list[dict[str, str]], columns: list[str], quote: bool, chunk_bytes: int
) -> None:
    def cell(value: str) -> str:
        return f'"{value}"' if quote or "," in value else value

    header = [*columns, "device"]
    body = ",".join(header) + "\n"
    body += "".join(",".join(cell(r.get(c, "web")) for c in header) + "\n" for r in rows)
    root = tmp_path / f"drawn-{abs(hash(body))}"
    (root / "listens").mkdir(parents=True)
    (root / "listens" / "a.csv").write_text(body, encoding="utf-8", newline="")
    new, old = _read_both(
        root,
        {"t1", "t2", "t3"},
        excluded=frozenset({"optout"}),
        erased=frozenset({"erased"}),
        chunk_bytes=chunk_bytes,
        piece_lines=2,
    )
    _assert_same_reading(new, old)


def _world_facts(world: World, log: ListenLog) -> TrackFacts:
    """Labels and primary artists from the world's catalog; farm-like as declared AI."""
    labels, artists = Vocabulary(), Vocabulary()
    farm_like, label, artist = [], [], []
    for track_id in log.tracks.ids:
        track = world.catalog[track_id]
        farm_like.append(track["ai_declaration"] == "generated" or track_id.endswith("7"))
        label.append(labels.add(track["label_id"]))
        artist.append(artists.add(track["artist_ids"][0]))
    return TrackFacts(
        farm_like=np.array(farm_like, dtype=bool),
        label=np.array(label, dtype=np.int64),
        artist=np.array(artist, dtype=np.int64),
    )


def _assert_same_verdict(log: ListenLog, facts: TrackFacts, rules: FraudRules) -> dict[str, int]:
    old = reference_fraud.screen_listens(log, facts, rules)
    for threads in (1, 3):  # ranges of users screened at once give the very same verdict
        new = _assert_verdict_equal(screen_listens(log, facts, rules, threads=threads), old)
    return new.accounts_by_rule


def _assert_verdict_equal(new: FraudVerdict, old: FraudVerdict) -> FraudVerdict:
    np.testing.assert_array_equal(new.flagged_users, old.flagged_users)
    assert new.rules_by_user == old.rules_by_user
    np.testing.assert_array_equal(new.kept_rows, old.kept_rows)
    assert new.capped_plays.dtype == old.capped_plays.dtype
    np.testing.assert_array_equal(new.capped_plays, old.capped_plays)
    assert new.accounts_by_rule == old.accounts_by_rule
    assert (new.excluded_plays, new.capped_away_plays) == (
        old.excluded_plays,
        old.capped_away_plays,
    )
    return new


# The defaults, then thresholds low enough that every rule flags someone in a small world.
LOOSE = FraudRules(
    max_plays_per_day=60,
    max_track_plays_per_day=4,
    max_loop_days=1,
    max_short_play_share=0.05,
    max_farm_share=0.15,
    max_label_share=0.3,
    bandwagon_target_share=0.1,
    bandwagon_popular_share=0.05,
    min_plays_for_shares=10,
    duplicate_min_group=2,
    duplicate_min_tracks=2,
    minhash_bands=8,
    minhash_rows=1,
)


@pytest.mark.parametrize("rules", [FraudRules(), LOOSE], ids=["defaults", "loose"])
@pytest.mark.parametrize("shuffled", [False, True], ids=["file_order", "shuffled"])
def test_a_generated_world_screens_the_same(
    world: World, rules: FraudRules, shuffled: bool
) -> None:
    log, _ = read_listens(world.root, world.catalog, excluded_users=world.excluded)
    if shuffled:
        order = np.random.default_rng(5).permutation(len(log))
        log = ListenLog(log.users, log.tracks, *(getattr(log, name)[order] for name in ARRAYS))
    by_rule = _assert_same_verdict(log, _world_facts(world, log), rules)
    assert sum(by_rule.values()) > 0
    if rules is LOOSE:
        assert all(count > 0 for count in by_rule.values()), by_rule


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_logs_built_to_tie_and_loop_screen_the_same(seed: int) -> None:
    """Few tracks, days and artists: loops, capped plays and tied top artists everywhere;
    some users have no rows at all."""
    rng = np.random.default_rng(seed)
    n_users, n_tracks, rows = 400, 30, 30_000
    user = rng.integers(0, n_users - 20, rows).astype(np.int32)
    plays = rng.integers(1, 40, rows).astype(np.int32)
    log = ListenLog(
        Vocabulary(f"u{i}" for i in range(n_users)),
        Vocabulary(f"t{i}" for i in range(n_tracks)),
        user,
        rng.integers(0, n_tracks, rows).astype(np.int32),
        rng.integers(20_000, 20_006, rows).astype(np.int32),
        (plays.astype(np.int64) * rng.choice([31_000, 200_000], rows)),
        plays,
    )
    facts = TrackFacts(
        farm_like=rng.random(n_tracks) < 0.2,
        label=rng.integers(0, 3, n_tracks).astype(np.int64),
        artist=rng.integers(0, 6, n_tracks).astype(np.int64),
    )
    for rules in (FraudRules(), LOOSE, replace(LOOSE, max_plays_per_day=400)):
        _assert_same_verdict(log, facts, rules)


def test_an_empty_log_screens_the_same() -> None:
    log = ListenLog(
        Vocabulary(["u0"]),
        Vocabulary(["t0"]),
        *(np.zeros(0, dtype=np.int64 if name == "ms_played" else np.int32) for name in ARRAYS),
    )
    facts = TrackFacts(np.zeros(1, dtype=bool), np.zeros(1, np.int64), np.zeros(1, np.int64))
    _assert_same_verdict(log, facts, FraudRules())
