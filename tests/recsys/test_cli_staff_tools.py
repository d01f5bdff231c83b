"""The trust team's and curators' CLI, through a real `python -m recsys` process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.factories import DataDir, track_row
from tests.recsys.cli_runner import CliResult, run_cli


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = DataDir()
    data.artist("ar1")
    data.artist("ar2")
    data.tracks += [track_row("t1", ["ar1"]), track_row("t2", ["ar2"])]
    return data.write(tmp_path / "data")


def _admitted(state: Path, data_dir: Path) -> int:
    grants = run_cli(
        "trust", "import", data_dir, "--by", "olga", "--why", "initial registry", state_dir=state
    )
    assert grants.code == 0, grants.err
    result = run_cli(
        "pool", "build", "--data", data_dir, "--json", "--allow-shrink", state_dir=state
    )
    assert result.code == 0, result.err
    return int(json.loads(result.out)["admitted"])


def test_revoke_and_restore_an_artist_through_the_cli(tmp_path: Path, data_dir: Path) -> None:
    state = tmp_path / "state"
    assert _admitted(state, data_dir) == 2
    revoke = run_cli(
        "trust",
        "revoke",
        "--artist",
        "ar2",
        "--by",
        "tina",
        "--why",
        "fake profile",
        state_dir=state,
    )
    assert revoke.code == 0, revoke.err
    assert json.loads(revoke.out)["before"]["trusted"] is True
    assert _admitted(state, data_dir) == 1
    restore = run_cli(
        "trust", "verify-artist", "ar2", "--by", "tina", "--why", "appeal upheld", state_dir=state
    )
    assert restore.code == 0, restore.err
    assert _admitted(state, data_dir) == 2
    audit = json.loads(run_cli("audit", state_dir=state).out)
    actions = [(e["actor"], e["action"], e["subject"]) for e in audit if e["actor"] == "tina"]
    assert actions == [
        ("tina", "trust.revoke_artist", "ar2"),
        ("tina", "trust.grant_artist", "ar2"),
    ]


def test_flag_review_queue_and_curator_decision(tmp_path: Path, data_dir: Path) -> None:
    state = tmp_path / "state"
    # Flagged before its first delivery: said so, since no pool knows the track yet.
    unsaid = run_cli(
        "flags", "add", "t1", "--source", "detector", "--score", "0.7", *STAFF, state_dir=state
    )
    assert unsaid.code == 2 and "--ahead-of-delivery" in unsaid.err
    flagged = run_cli(
        "flags",
        "add",
        "t1",
        "--ahead-of-delivery",
        "--source",
        "detector",
        "--score",
        "0.7",
        "--by",
        "detector-v3",
        "--why",
        "spectral artefacts",
        state_dir=state,
    )
    assert flagged.code == 0, flagged.err
    queue = json.loads(run_cli("flags", "queue", state_dir=state).out)
    # Flagged before any pool was built: the queue cannot name it yet.
    assert queue == [
        {
            "track_id": "t1",
            "max_score": 0.7,
            "waiting_for": "review",
            "title": None,
            "artists": [],
            "label": None,
            "partner": None,
        }
    ]
    assert _admitted(state, data_dir) == 1
    # The build refused t1 (waiting for review), and the pool report keeps what it is: the
    # queue names it though the snapshot holds only admitted tracks.
    [entry] = json.loads(run_cli("flags", "queue", state_dir=state).out)
    assert (entry["track_id"], entry["title"], entry["partner"]) == ("t1", "Song t1", "pt1")
    assert entry["artists"] == [{"artist_id": "ar1", "name": "Artist ar1"}]
    assert entry["label"] == {"label_id": "lb1", "name": "Good Label"}
    cleared = run_cli(
        "flags",
        "review",
        "t1",
        "--decision",
        "clear",
        "--by",
        "carol",
        "--why",
        "live recording, human",
        state_dir=state,
    )
    assert cleared.code == 0, cleared.err
    assert json.loads(run_cli("flags", "queue", state_dir=state).out) == []
    assert _admitted(state, data_dir) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("trust", "verify-artist", "ar\u00071", "--by", "x", "--why", "y"), "control characters"),
        (("trust", "verify-artist", "ar1", "--by", " ", "--why", "y"), "'--by': must not be empty"),
        (
            (
                "flags",
                "add",
                "t1",
                "--source",
                "detector",
                "--score",
                "1.5",
                "--by",
                "x",
                "--why",
                "y",
            ),
            "between 0.0 and 1.0",
        ),
        (
            (
                "flags",
                "add",
                "t1",
                "--source",
                "detector",
                "--score",
                "nan",
                "--by",
                "x",
                "--why",
                "y",
            ),
            "between 0.0 and 1.0",
        ),
        (("audit", "--since", "last tuesday"), "not an ISO 8601 timestamp"),
        (("pool", "build", "--data", "/nonexistent/data"), "no such data directory"),
    ],
)
def test_bad_staff_input_gets_a_message_not_a_traceback(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args, state_dir=tmp_path / "state")
    assert result.code != 0
    assert message in result.err
    assert "Traceback" not in result.err
    audit = run_cli("audit", state_dir=tmp_path / "state")
    # Nothing was changed, so nothing was recorded; a refusal before any state existed made
    # none (and the audit, a read, makes none either: it says so).
    if (tmp_path / "state" / "state.sqlite3").exists():
        assert json.loads(audit.out) == []
    else:
        assert audit.code == 1 and "nothing has been built yet" in audit.err


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    result = run_cli(
        "audit", state_dir=tmp_path / "state", env={"RECSYS_POOL__AI__EXCLUDE_TRESHOLD": "0.5"}
    )
    assert result.code == 2
    assert "unknown setting 'pool.ai.exclude_treshold'" in result.err


def test_curator_links_through_the_cli(tmp_path: Path, data_dir: Path) -> None:
    state = tmp_path / "state"
    assert _admitted(state, data_dir) == 2
    added = run_cli(
        "links",
        "add",
        "ar1",
        "ar2",
        "--weight",
        "0.8",
        "--by",
        "cora",
        "--why",
        "same scene",
        state_dir=state,
    )
    assert added.code == 0, added.err
    listed = json.loads(run_cli("links", "list", "--artist", "ar2", state_dir=state).out)
    assert [(link["artist_a"], link["artist_b"], link["kind"]) for link in listed] == [
        ("ar1", "ar2", "similar")
    ]
    for args, message in [
        (("links", "add", "ar1", "ar1", "--weight", "0.5"), "cannot be linked to itself"),
        (("links", "add", "ar1", "ghost", "--weight", "0.5"), "not a verified artist"),
        (("links", "add", "ar1", "ar2", "--weight", "2"), "between 0.0 and 1.0"),
        (("links", "remove", "ar1", "ar9"), "there is no link"),
    ]:
        refused = run_cli(*args, "--by", "cora", "--why", "test", state_dir=state)
        assert refused.code == 2
        assert message in refused.err
        assert "Traceback" not in refused.err
    removed = run_cli(
        "links", "remove", "ar2", "ar1", "--by", "cora", "--why", "mistake", state_dir=state
    )
    assert removed.code == 0, removed.err
    assert json.loads(run_cli("links", "list", state_dir=state).out) == []


STAFF = ("--by", "cora", "--why", "weekly curation")


def _ok(*args: str, state: Path) -> Any:
    result = run_cli(*args, state_dir=state)
    assert result.code == 0, (args, result.err)
    return json.loads(result.out)


def test_curator_reads_name_artists_and_tracks(tmp_path: Path, data_dir: Path) -> None:
    """Links, similar artists and the review queue carry the pool's names beside each id, and
    null for an id the current pool no longer holds."""
    state = tmp_path / "state"
    assert _admitted(state, data_dir) == 2
    _ok("links", "add", "ar1", "ar2", "--weight", "0.8", *STAFF, state=state)
    [link] = _ok("links", "list", "--artist", "ar1", state=state)
    assert (link["artist_a"], link["artist_b"], link["kind"], link["weight"]) == (
        "ar1",
        "ar2",
        "similar",
        0.8,
    )
    assert (link["artist_a_name"], link["artist_b_name"]) == ("Artist ar1", "Artist ar2")
    similar = _ok("similar", "ar1", state=state)
    assert similar["artist_name"] == "Artist ar1"
    assert [(s["artist_id"], s["name"], s["source"]) for s in similar["similar"]] == [
        ("ar2", "Artist ar2", "curated")
    ]
    # A listener's report queues the track and leaves it in the pool, so the queue names it.
    _ok("flags", "add", "t2", "--source", "listener", "--score", "0.6", *STAFF, state=state)
    [entry] = _ok("flags", "queue", state=state)
    assert entry == {
        "track_id": "t2",
        "max_score": 0.6,
        "waiting_for": "review_of_listener_reports",
        "title": "Song t2",
        "artists": [{"artist_id": "ar2", "name": "Artist ar2"}],
        "label": {"label_id": "lb1", "name": "Good Label"},
        "partner": "pt1",
    }
    # ar2 revoked and the pool rebuilt: ar2 and t2 are outside the pool, named null.
    _ok("trust", "revoke", "--artist", "ar2", *STAFF, state=state)
    assert _admitted(state, data_dir) == 1
    [link] = _ok("links", "list", state=state)
    assert (link["artist_a_name"], link["artist_b_name"]) == ("Artist ar1", None)
    [entry] = _ok("flags", "queue", state=state)
    assert (entry["track_id"], entry["max_score"]) == ("t2", 0.6)
    assert (entry["title"], entry["artists"], entry["label"]) == (None, [], None)


def test_a_review_of_a_track_nothing_knows_is_refused(tmp_path: Path) -> None:
    """A curator's decision needs a track the engine knows: in the pool, refused by its build
    (a withheld track is what curators review), or named by a flag. A typo is refused with
    one line naming it, and nothing is recorded. A flag stays free to name any track: it may
    arrive before the track's feed, said with --ahead-of-delivery."""
    data = DataDir()
    data.artist("ar1")
    data.artist("ar3", verified=False)
    data.tracks += [track_row("t1", ["ar1"]), track_row("t3", ["ar3"])]
    data_dir = data.write(tmp_path / "data")
    state = tmp_path / "state"

    def review(track: str) -> CliResult:
        return run_cli("flags", "review", track, "--decision", "exclude", *STAFF, state_dir=state)

    # Before any pool is built only a flag makes a track known.
    before_pool = review("t1")
    assert before_pool.code == 2
    assert _admitted(state, data_dir) == 1
    audit = _ok("audit", state=state)
    refused = review("t1x")
    assert refused.code == 2
    lines = refused.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.err
    assert "t1x" in lines[0] and "not in the current pool" in lines[0]
    assert _ok("audit", state=state) == audit  # nothing recorded
    assert review("t1").code == 0  # in the pool
    assert review("t3").code == 0  # refused by the build
    audit = _ok("audit", state=state)
    refused = run_cli(
        "flags", "add", "t-next", "--source", "detector", "--score", "0.6", *STAFF, state_dir=state
    )
    assert refused.code == 2 and "unknown track: t-next" in refused.err  # a typo, or ahead?
    assert _ok("audit", state=state) == audit
    ahead = ("--ahead-of-delivery", *STAFF)
    _ok("flags", "add", "t-next", "--source", "detector", "--score", "0.6", *ahead, state=state)
    assert review("t-next").code == 0  # named by a flag
