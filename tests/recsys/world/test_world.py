"""Tests of the synthetic world generator on small worlds: format, determinism, truth."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from recsys.world import WorldConfig, generate_world

TODAY = date(2026, 11, 24)
ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
JsonObject = dict[str, Any]
ID_PATTERNS = {
    "artist": re.compile(r"^ar\d{6}$"),
    "label": re.compile(r"^lb\d{4}$"),
    "partner": re.compile(r"^pt\d{3}$"),
    "track": re.compile(r"^tr\d{7}$"),
    "release": re.compile(r"^rl\d{5}$"),
    "user": re.compile(r"^u\d{7}$"),
}
TRACK_FIELDS = {
    "track_id", "title", "artist_ids", "label_id", "release_id", "release_title",
    "release_date", "duration_ms", "isrc", "tags", "ai_declaration", "partner",
}  # fmt: skip


def small_config(seed: int = 7) -> WorldConfig:
    return WorldConfig(users=300, artists=60, seed=seed, today=TODAY)


def parse_timestamp(text: str) -> datetime:
    assert TIMESTAMP.match(text), text
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def read_jsonl(path: Path) -> list[JsonObject]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def read_csv(path: Path, header: list[str]) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == header, f"{path.name} header"
    for row in rows[1:]:
        assert len(row) == len(header), f"{path.name}: {row}"
    return rows[1:]


@dataclass
class World:
    """A parsed data directory plus its truth file."""

    root: Path
    summary: dict[str, int]
    truth: JsonObject
    artists: dict[str, JsonObject] = field(default_factory=dict)
    labels: dict[str, JsonObject] = field(default_factory=dict)
    tracks: dict[str, JsonObject] = field(default_factory=dict)
    trusted_partners: set[str] = field(default_factory=set)
    trusted_labels: set[str] = field(default_factory=set)
    verified_artists: set[str] = field(default_factory=set)
    flags: list[JsonObject] = field(default_factory=list)
    takedowns: list[list[str]] = field(default_factory=list)
    listens: list[tuple[str, str, datetime, int, int]] = field(default_factory=list)
    follows: list[list[str]] = field(default_factory=list)
    links: list[JsonObject] = field(default_factory=list)
    optouts: list[str] = field(default_factory=list)
    exclusions: list[list[str]] = field(default_factory=list)

    def ids(self, key: str) -> list[str]:
        value = self.truth[key]
        assert isinstance(value, list)
        return [str(v) for v in value]


def load_world(root: Path, summary: dict[str, int]) -> World:
    truth = json.loads(root.parent.joinpath(root.name + ".truth.json").read_text("utf-8"))
    world = World(root=root, summary=summary, truth=truth)
    world.artists = {str(r["artist_id"]): r for r in read_jsonl(root / "catalog/artists.jsonl")}
    world.labels = {str(r["label_id"]): r for r in read_jsonl(root / "catalog/labels.jsonl")}
    world.tracks = {str(r["track_id"]): r for r in read_jsonl(root / "catalog/tracks.jsonl")}
    world.trusted_partners = {
        r[0]
        for r in read_csv(root / "trust/partners.csv", ["partner_id", "trusted_by", "trusted_at"])
    }
    world.trusted_labels = {
        r[0] for r in read_csv(root / "trust/labels.csv", ["label_id", "trusted_by", "trusted_at"])
    }
    world.verified_artists = {
        r[0]
        for r in read_csv(root / "trust/artists.csv", ["artist_id", "verified_by", "verified_at"])
    }
    world.flags = read_jsonl(root / "flags/ai_flags.jsonl")
    world.takedowns = read_csv(root / "takedowns.csv", ["track_id", "reason", "created_at"])
    for path in sorted((root / "listens").glob("*.csv")):
        for user, track, played_at, ms, plays in read_csv(
            path, ["user_id", "track_id", "played_at", "ms_played", "plays"]
        ):
            world.listens.append((user, track, parse_timestamp(played_at), int(ms), int(plays)))
    world.follows = read_csv(root / "follows.csv", ["user_id", "artist_id"])
    world.links = read_jsonl(root / "curation/links.jsonl")
    world.optouts = [r[0] for r in read_csv(root / "optouts.csv", ["user_id"])]
    world.exclusions = read_csv(root / "exclusions.csv", ["user_id", "kind", "id"])
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("worlds") / "small"
    summary = generate_world(root, small_config())
    return load_world(root, summary)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --- determinism and the output directory -------------------------------------------------


def test_same_config_gives_identical_bytes(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert generate_world(first, small_config()) == generate_world(second, small_config())
    assert tree_bytes(first) == tree_bytes(second)
    assert (tmp_path / "a.truth.json").read_bytes() == (tmp_path / "b.truth.json").read_bytes()
    generate_world(other, small_config(seed=8))
    assert tree_bytes(other)["listens/part-0000.csv"] != tree_bytes(first)["listens/part-0000.csv"]


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine", "utf-8")
    with pytest.raises(ValueError, match="not empty"):
        generate_world(target, small_config())
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "taken.truth.json").exists()


def test_accepts_an_existing_empty_directory_and_writes_truth_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    generate_world(target, small_config())
    assert (tmp_path / "empty.truth.json").is_file()
    assert not any(p.name.endswith(".truth.json") for p in target.rglob("*"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"users": 10}, "users"),
        ({"artists": 5}, "artists"),
        ({"today": datetime(2026, 11, 24, tzinfo=UTC)}, "today"),
        ({"bot_share": 0.9}, "bot_share"),
    ],
)
def test_rejects_bad_configs(overrides: JsonObject, message: str) -> None:
    values: JsonObject = {"users": 300, "artists": 60, "seed": 1, "today": TODAY}
    values.update(overrides)
    with pytest.raises(ValueError, match=message):
        WorldConfig(**values)


# --- every file parses per SPEC section 2 --------------------------------------------------


def test_catalog_rows_follow_the_spec(world: World) -> None:
    partners = world.trusted_partners | set(world.ids("untrusted_partner_ids"))
    for artist_id, row in world.artists.items():
        assert ID_PATTERNS["artist"].match(artist_id)
        assert isinstance(row["name"], str) and row["name"]
        assert row["partner"] in partners
    for label_id, row in world.labels.items():
        assert ID_PATTERNS["label"].match(label_id)
        assert row["partner"] in partners
    isrc_owner: dict[str, list[str]] = defaultdict(list)
    for track_id, row in world.tracks.items():
        assert ID_PATTERNS["track"].match(track_id)
        assert set(row) >= TRACK_FIELDS, track_id
        assert isinstance(row["title"], str) and row["title"]
        artists = row["artist_ids"]
        assert isinstance(artists, list) and artists
        assert len(set(artists)) == len(artists)
        assert all(a in world.artists for a in artists)
        assert row["label_id"] in world.labels
        assert row["partner"] == world.labels[str(row["label_id"])]["partner"]
        assert ID_PATTERNS["release"].match(str(row["release_id"]))
        released = date.fromisoformat(str(row["release_date"]))
        assert TODAY - timedelta(days=731) <= released < TODAY
        duration = row["duration_ms"]
        assert isinstance(duration, int) and 30_000 < duration <= 1_200_000
        assert ISRC.match(str(row["isrc"]))
        tags = row["tags"]
        assert isinstance(tags, list) and tags and all(isinstance(t, str) and t for t in tags)
        assert row["ai_declaration"] in {"none", "assisted", "generated"}
        isrc_owner[str(row["isrc"])].append(track_id)
    shared = sorted(sorted(ids) for ids in isrc_owner.values() if len(ids) > 1)
    assert shared == world.truth["isrc_version_pairs"]
    assert shared, "a small world still has one single re-released on an album"
    for first, second in shared:
        assert world.tracks[first]["artist_ids"][0] == world.tracks[second]["artist_ids"][0]


def test_releases_share_dates_and_some_are_recent(world: World) -> None:
    by_release: dict[str, set[str]] = defaultdict(set)
    sizes: Counter[str] = Counter()
    for row in world.tracks.values():
        by_release[str(row["release_id"])].add(str(row["release_date"]))
        sizes[str(row["release_id"])] += 1
    assert all(len(dates) == 1 for dates in by_release.values())
    assert max(sizes.values()) >= 8, "albums exist"
    recent = [
        r for r in world.tracks.values()
        if date.fromisoformat(str(r["release_date"])) >= TODAY - timedelta(days=14)
    ]  # fmt: skip
    assert recent


def test_registry_flags_takedowns_and_links_parse(world: World) -> None:
    for path, header in [
        ("trust/partners.csv", ["partner_id", "trusted_by", "trusted_at"]),
        ("trust/labels.csv", ["label_id", "trusted_by", "trusted_at"]),
        ("trust/artists.csv", ["artist_id", "verified_by", "verified_at"]),
    ]:
        for _entity, staff, when in read_csv(world.root / path, header):
            assert staff
            assert parse_timestamp(when) < datetime(2026, 11, 24, tzinfo=UTC)
    assert world.verified_artists <= set(world.artists)
    assert world.trusted_labels <= set(world.labels)
    for flag in world.flags:
        assert flag["track_id"] in world.tracks
        assert flag["source"] in {"detector", "label", "curator", "listener"}
        score = flag["score"]
        assert isinstance(score, float | int) and 0.0 <= score <= 1.0
        parse_timestamp(str(flag["created_at"]))
    assert {f["source"] for f in world.flags} == {"detector", "label", "curator", "listener"}
    for track_id, reason, when in world.takedowns:
        assert track_id in world.tracks and reason
        parse_timestamp(when)
    for link in world.links:
        assert link["artist_a"] in world.artists and link["artist_b"] in world.artists
        assert link["artist_a"] != link["artist_b"]
        assert link["kind"] in {"similar", "block"}
        weight = link["weight"]
        assert isinstance(weight, float | int) and 0.0 <= weight <= 1.0
        assert link["curator"]
        parse_timestamp(str(link["created_at"]))
    assert {link["kind"] for link in world.links} == {"similar", "block"}


def test_listens_are_valid_rows_within_the_window(world: World) -> None:
    window_start = datetime(2026, 11, 24, tzinfo=UTC) - timedelta(days=180)
    assert len(world.listens) == world.summary["listen_rows"]
    assert len(list((world.root / "listens").glob("part-*.csv"))) >= 2
    seen: set[tuple[str, str, date]] = set()
    for user, track, played_at, ms, plays in world.listens:
        assert ID_PATTERNS["user"].match(user)
        assert track in world.tracks
        assert window_start <= played_at < datetime(2026, 11, 24, tzinfo=UTC)
        released = date.fromisoformat(str(world.tracks[track]["release_date"]))
        assert played_at.date() >= released, "no play before the release"
        assert plays >= 1
        duration = world.tracks[track]["duration_ms"]
        assert isinstance(duration, int) and 0 < ms <= plays * duration
        key = (user, track, played_at.date())
        assert key not in seen, "one row per user, track and day"
        seen.add(key)
    assert any(plays > 1 for *_, plays in world.listens)
    assert any(plays == 1 for *_, plays in world.listens)


def test_follows_optouts_and_exclusions_reference_known_ids(world: World) -> None:
    users = {user for user, *_ in world.listens}
    assert world.follows and world.optouts and world.exclusions
    for user, artist in world.follows:
        assert user in users and artist in world.artists
    assert len({tuple(f) for f in world.follows}) == len(world.follows)
    assert world.optouts == sorted(set(world.optouts)) == world.ids("optout_user_ids")
    for user, kind, target in world.exclusions:
        assert user in users
        if kind == "artist":
            assert target in world.artists
        else:
            assert kind == "track" and target in world.tracks


# --- the truth file agrees with the files ---------------------------------------------------


def recompute_eligible(world: World) -> list[str]:
    """The gate's rule, restated from the files alone."""
    blocked = set()
    for flag in world.flags:
        score = flag["score"]
        assert isinstance(score, float | int)
        if flag["source"] in {"label", "curator"} or (
            flag["source"] == "detector" and score >= 0.5
        ):
            blocked.add(flag["track_id"])
    taken_down = {row[0] for row in world.takedowns}
    eligible = sorted(
        track_id
        for track_id, row in world.tracks.items()
        if row["partner"] in world.trusted_partners
        and row["label_id"] in world.trusted_labels
        and all(a in world.verified_artists for a in row["artist_ids"])
        and row["ai_declaration"] != "generated"
        and track_id not in blocked
        and track_id not in taken_down
    )
    return eligible


def test_expected_eligible_matches_a_recomputation_from_the_files(world: World) -> None:
    eligible = recompute_eligible(world)
    assert eligible == world.ids("expected_eligible_track_ids")
    assert 0.5 * len(world.tracks) < len(eligible) < len(world.tracks)
    assert world.summary["eligible_tracks"] == len(eligible)


def test_trust_lists_match_the_registry(world: World) -> None:
    assert world.ids("trusted_partner_ids") == sorted(world.trusted_partners)
    assert world.ids("trusted_label_ids") == sorted(world.trusted_labels)
    assert world.ids("verified_artist_ids") == sorted(world.verified_artists)
    assert set(world.ids("unverified_artist_ids")) == set(world.artists) - world.verified_artists
    assert world.ids("genuine_unverified_artist_ids"), "small genuine artists lack verification"
    assert world.ids("untrusted_genuine_label_ids")


def test_farm_tracks_come_from_untrusted_feeds_and_unverified_artists(world: World) -> None:
    farm_tracks = world.ids("farm_track_ids")
    farm_artists = set(world.ids("farm_artist_ids"))
    farm_partners = set(world.ids("farm_partner_ids"))
    farm_labels = set(world.ids("farm_label_ids"))
    assert farm_partners.isdisjoint(world.trusted_partners)
    assert farm_labels.isdisjoint(world.trusted_labels)
    assert farm_artists.isdisjoint(world.verified_artists)
    assert 0.05 * len(world.tracks) < len(farm_tracks) < 0.3 * len(world.tracks)
    declarations: Counter[str] = Counter()
    for track_id in farm_tracks:
        row = world.tracks[track_id]
        assert row["partner"] in farm_partners
        assert row["label_id"] in farm_labels
        assert set(row["artist_ids"]) <= farm_artists
        assert int(row["duration_ms"]) < 100_000
        declarations[row["ai_declaration"]] += 1
    assert declarations["generated"] > 0 and declarations["none"] > 0, "some farm rows lie"
    lying = [r for r in world.tracks.values() if r.get("trusted") is True]
    assert lying and all(r["track_id"] in set(farm_tracks) for r in lying)
    assert any(r.get("verified") is True for r in world.artists.values())


def test_ai_truth_sets_match_declarations_and_flags(world: World) -> None:
    declared = {t: str(r["ai_declaration"]) for t, r in world.tracks.items()}
    assert world.ids("declared_generated_track_ids") == sorted(
        t for t, d in declared.items() if d == "generated"
    )
    assert world.ids("assisted_track_ids") == sorted(
        t for t, d in declared.items() if d == "assisted"
    )
    best: dict[str, float] = {}
    curated: set[str] = set()
    for flag in world.flags:
        track_id, score = str(flag["track_id"]), float(flag["score"])
        if flag["source"] == "detector":
            best[track_id] = max(best.get(track_id, 0.0), score)
        if flag["source"] == "curator":
            curated.add(track_id)
    exclude = sorted(t for t, s in best.items() if s >= 0.9)
    review = sorted(t for t, s in best.items() if 0.5 <= s < 0.9)
    assert world.ids("detector_exclude_track_ids") == exclude
    assert world.ids("detector_review_track_ids") == review
    assert world.ids("curator_flagged_track_ids") == sorted(curated)
    assert 0.9 in best.values() and 0.5 in best.values(), "scores sit on both thresholds"
    assert any(s < 0.5 for s in best.values()), "low-score noise exists"
    hidden = world.ids("hidden_ai_track_ids")
    assert hidden
    kinds = set()
    for track_id in hidden:
        row = world.tracks[track_id]
        assert row["ai_declaration"] == "none"
        assert row["label_id"] in world.trusted_labels and row["partner"] in world.trusted_partners
        assert all(a in world.verified_artists for a in row["artist_ids"])
        score = best.get(track_id, 0.0)
        kinds.add("curator" if track_id in curated else "exclude" if score >= 0.9 else "review")
        assert track_id in curated or score >= 0.5
    assert kinds == {"curator", "exclude", "review"}
    for track_id in world.ids("assisted_track_ids"):
        assert world.tracks[track_id]["artist_ids"][0] in world.verified_artists


# --- scenes, listeners and bots -------------------------------------------------------------


def test_genuine_tracks_carry_their_scene_tags(world: World) -> None:
    scenes = world.truth["scenes"]
    artist_scene = world.truth["artist_scene"]
    assert isinstance(scenes, dict) and isinstance(artist_scene, dict)
    assert 20 <= len(scenes) <= 60
    assert set(artist_scene) == set(world.artists) - set(world.ids("farm_artist_ids"))
    in_scene = total = 0
    for row in world.tracks.values():
        primary = row["artist_ids"][0]
        if primary not in artist_scene:
            continue
        scene_tags = set(scenes[artist_scene[primary]])
        total += 1
        in_scene += scene_tags >= set(row["tags"][:1])
    assert in_scene / total > 0.9


def test_genuine_listeners_stay_within_few_scenes(world: World) -> None:
    bots = {u for users in world.truth["bot_user_ids"].values() for u in users}
    scene_of = world.truth["artist_scene"]
    assert isinstance(scene_of, dict)
    rows_per_user: Counter[str] = Counter()
    scenes_per_user: dict[str, Counter[str]] = defaultdict(Counter)
    for user, track, *_ in world.listens:
        if user in bots:
            continue
        rows_per_user[user] += 1
        primary = world.tracks[track]["artist_ids"][0]
        if primary in scene_of:
            scenes_per_user[user][scene_of[primary]] += 1
    counts = sorted(rows_per_user.values())
    median = counts[len(counts) // 2]
    assert 20 <= median <= 70
    assert counts[-1] > 4 * median, "long tail"
    concentrated = [
        sum(c for _, c in scenes.most_common(3)) / sum(scenes.values())
        for scenes in scenes_per_user.values()
        if sum(scenes.values()) >= 20
    ]
    assert sorted(concentrated)[len(concentrated) // 2] > 0.9
    assert len(rows_per_user) + len(bots) == 300


def test_bots_exist_and_behave_like_bots(world: World) -> None:
    bot_ids = world.truth["bot_user_ids"]
    assert isinstance(bot_ids, dict)
    assert set(bot_ids) == {"farm_streamer", "pusher", "camouflaged_pusher"}
    assert all(len(users) >= 3 for users in bot_ids.values())
    farm_tracks = set(world.ids("farm_track_ids"))
    rows_by_user: dict[str, list[tuple[str, datetime, int, int]]] = defaultdict(list)
    for user, track, at, ms, plays in world.listens:
        rows_by_user[user].append((track, at, ms, plays))
    for user in bot_ids["farm_streamer"]:
        rows = rows_by_user[user]
        assert len(rows) > 100
        assert all(track in farm_tracks for track, *_ in rows)
        assert all(30_000 <= ms / plays <= 35_000 for _, _, ms, plays in rows)
    targets = set(world.ids("bot_target_artist_ids"))
    assert targets and targets <= world.verified_artists
    for user in bot_ids["pusher"] + bot_ids["camouflaged_pusher"]:
        pushed = [r for r in rows_by_user[user] if world.tracks[r[0]]["artist_ids"][0] in targets]
        assert pushed and all(plays >= 39 and ms / plays < 33_000 for *_, ms, plays in pushed)
    camouflage = {
        world.tracks[r[0]]["artist_ids"][0]
        for user in bot_ids["camouflaged_pusher"]
        for r in rows_by_user[user]
    } - targets
    assert camouflage, "camouflaged pushers also play popular artists"
    groups = world.truth["bot_groups"]
    assert isinstance(groups, list) and groups
    for group in groups:
        first, second = group["user_ids"][:2]
        a = {(t, at.date()) for t, at, *_ in rows_by_user[first]}
        b = {(t, at.date()) for t, at, *_ in rows_by_user[second]}
        assert len(a & b) / len(a | b) > 0.8, "near-identical histories"
    pushers_follow = {(u, a) for u, a in world.follows}
    assert any((u, g["target_artist_id"]) in pushers_follow for g in groups for u in g["user_ids"])


def test_genuine_listeners_play_one_track_at_most_15_times_a_day(world: World) -> None:
    # The engine's fraud screen reads > 30 plays of one track a day as a loop: genuine people,
    # heavy ones hearing a release of the last few days included, must not look like that.
    bot_ids = world.truth["bot_user_ids"]
    assert isinstance(bot_ids, dict)
    bots = {str(u) for users in bot_ids.values() for u in users}
    recent = {
        track for track, row in world.tracks.items()
        if date.fromisoformat(str(row["release_date"])) >= TODAY - timedelta(days=3)
    }  # fmt: skip
    daily: Counter[tuple[str, str, date]] = Counter()
    for user, track, at, _, plays in world.listens:
        daily[(user, track, at.date())] += plays
    genuine = {key: plays for key, plays in daily.items() if key[0] not in bots}
    assert any(track in recent for _, track, _ in genuine), "genuine listeners hear new releases"
    assert max(genuine.values()) <= 15, max(genuine.items(), key=lambda item: item[1])
    looping = {user for (user, _, _), plays in daily.items() if user in bots and plays > 30}
    assert set(bot_ids["pusher"]) | set(bot_ids["camouflaged_pusher"]) <= looping, "bots loop"


def test_some_genuine_listeners_stream_ai_and_unverified_tracks(tmp_path: Path) -> None:
    # Bigger than the shared world, so the ~2 % of listeners who stream farm tracks are there.
    root = tmp_path / "mid"
    generate_world(root, WorldConfig(users=2000, artists=200, seed=3, today=TODAY))
    truth = json.loads((tmp_path / "mid.truth.json").read_text("utf-8"))
    bots = {u for users in truth["bot_user_ids"].values() for u in users}
    farm = set(truth["farm_track_ids"])
    assisted = set(truth["assisted_track_ids"])
    unverified = set(truth["genuine_unverified_artist_ids"])
    primary = {
        str(r["track_id"]): r["artist_ids"][0] for r in read_jsonl(root / "catalog/tracks.jsonl")
    }
    heard: dict[str, set[str]] = {"farm": set(), "assisted": set(), "unverified": set()}
    for path in sorted((root / "listens").glob("*.csv")):
        for user, track, *_ in read_csv(
            path, ["user_id", "track_id", "played_at", "ms_played", "plays"]
        ):
            if user in bots:
                continue
            if track in farm:
                heard["farm"].add(user)
            if track in assisted:
                heard["assisted"].add(user)
            if primary[track] in unverified:
                heard["unverified"].add(user)
    assert all(heard.values()), {k: len(v) for k, v in heard.items()}
    assert len(heard["farm"]) < 0.1 * (2000 - len(bots)), "only a few"


def test_curator_links_include_same_scene_blocks(world: World) -> None:
    scene_of = world.truth["artist_scene"]
    assert isinstance(scene_of, dict)
    blocks = world.truth["block_pairs"]
    similar = world.truth["similar_pairs"]
    assert isinstance(blocks, list) and isinstance(similar, list)
    assert blocks and similar
    assert any(scene_of[a] == scene_of[b] for a, b in blocks)
    block_set = {tuple(p) for p in blocks}
    assert block_set.isdisjoint(tuple(p) for p in similar)
    listed = sorted(sorted((str(x["artist_a"]), str(x["artist_b"]))) for x in world.links)
    assert listed == sorted(blocks + similar)
    same_or_near = 0
    neighbours = world.truth["scene_neighbours"]
    assert isinstance(neighbours, dict)
    for a, b in similar:
        sa, sb = scene_of[a], scene_of[b]
        same_or_near += sa == sb or sb in neighbours[sa]
    assert same_or_near / len(similar) > 0.9


def test_summary_counts_match_the_files(world: World) -> None:
    assert world.summary["users"] == 300
    assert world.summary["artists"] == 60
    assert world.summary["catalog_artists"] == len(world.artists) == world.truth["catalog_artists"]
    assert world.truth["artists"] == 60
    assert world.summary["tracks"] == len(world.tracks) == world.truth["tracks"]
    assert world.summary["farm_tracks"] == len(world.ids("farm_track_ids"))
    assert world.summary["bot_users"] == sum(len(v) for v in world.truth["bot_user_ids"].values())
    assert world.summary["follows"] == len(world.follows)
    assert world.summary["exclusions"] == len(world.exclusions)


@pytest.mark.parametrize(
    "config",
    [
        WorldConfig(users=50, artists=20, seed=5, today=TODAY),
        WorldConfig(users=60, artists=25, seed=5, today=TODAY, bot_share=0.0),
        WorldConfig(users=80, artists=30, seed=5, today=TODAY, farm_track_share=0.0),
        WorldConfig(
            users=120,
            artists=40,
            seed=5,
            today=TODAY,
            listen_days=14,
            chunk_users=7,
            users_per_listen_file=13,
            takedown_share=0.0,
            hidden_ai_share=0.0,
        ),
    ],
    ids=["smallest", "no-bots", "no-farms", "short-window-many-chunks"],
)
def test_edge_configs_still_write_consistent_worlds(tmp_path: Path, config: WorldConfig) -> None:
    root = tmp_path / "edge"
    summary = generate_world(root, config)
    edge = load_world(root, summary)
    assert recompute_eligible(edge) == edge.ids("expected_eligible_track_ids")
    assert len(edge.listens) == summary["listen_rows"] > 0
    assert {u for u, *_ in edge.listens} <= {f"u{i:07d}" for i in range(1, config.users + 1)}
    start = datetime(2026, 11, 24, tzinfo=UTC) - timedelta(days=config.listen_days)
    assert all(start <= at < datetime(2026, 11, 24, tzinfo=UTC) for _, _, at, *_ in edge.listens)
    bots = sum(len(v) for v in edge.truth["bot_user_ids"].values())
    assert (bots == 0) == (config.bot_share == 0.0)
    assert (summary["farm_tracks"] == 0) == (config.farm_track_share == 0.0)
    if config.takedown_share == 0.0:
        assert edge.takedowns == [] and edge.ids("hidden_ai_track_ids") == []
