from __future__ import annotations

from pathlib import Path

from recsys.listening.reader import read_listens

HEADER = b"user_id,track_id,played_at,ms_played,plays\n"


def _write(tmp_path: Path, *parts: tuple[str, bytes]) -> Path:
    (tmp_path / "listens").mkdir(parents=True)
    for name, body in parts:
        (tmp_path / "listens" / name).write_bytes(body)
    return tmp_path


def test_good_rows_become_arrays_in_file_order(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        ("b.csv", HEADER + b"u2,t1,2026-11-02T00:30:00+01:00,200000,1\n"),
        (
            "a.csv",
            HEADER + b"u1,t1,2026-11-01T10:00:00Z,400000,2\nu1,t2,2026-11-01T11:00:00Z,1,1\n",
        ),
    )
    log, report = read_listens(root, {"t1", "t2"})
    assert list(log.users.ids) == ["u1", "u2"]
    assert log.user.tolist() == [0, 0, 1]
    assert log.track.tolist() == [0, 1, 0]
    assert log.plays.tolist() == [2, 1, 1]
    assert log.ms_played.tolist() == [400000, 1, 200000]
    # 00:30 at +01:00 is still 1 November in UTC: days are UTC days.
    assert log.day.tolist() == [20758, 20758, 20758]
    assert report.rows == 3
    assert report.kept_rows == 3


def test_bad_rows_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    body = HEADER + b"".join(
        [
            b"u1,t1,2026-11-01T10:00:00Z,200000,1\n",
            b"u1,t1,yesterday,200000,1\n",
            b"u1,t1,2026-11-01T10:00:00Z,-5,1\n",
            b"u1,t1,2026-11-01T10:00:00Z,200000,0\n",
            b"u1,t1,2026-11-01T10:00:00Z,200000\n",
            b",t1,2026-11-01T10:00:00Z,200000,1\n",
            b"u\xff,t1,2026-11-01T10:00:00Z,200000,1\n",
            b"u3,t1,2026-11-01T10:00:00Z,200000,1\n",
        ]
    )
    log, report = read_listens(_write(tmp_path, ("p.csv", body)), {"t1"})
    assert list(log.users.ids) == ["u1", "u3"]
    assert [str(i).split(":")[0:2] for i in report.issues] == [
        ["listens/p.csv", str(n)] for n in (3, 4, 5, 6, 7, 8)
    ]
    assert "played_at" in report.issues[0].reason
    assert "ms_played" in report.issues[1].reason
    assert "plays" in report.issues[2].reason
    assert "has 4 fields" in report.issues[3].reason
    assert "user_id" in report.issues[4].reason
    assert "UTF-8" in report.issues[5].reason
    assert report.bad_rows == 6


def test_unknown_tracks_opt_outs_and_erased_users_never_enter_the_log(tmp_path: Path) -> None:
    body = HEADER + (
        b"u1,t1,2026-11-01T10:00:00Z,200000,1\n"
        b"u1,ghost,2026-11-01T10:00:00Z,600000,3\n"
        b"private,t1,2026-11-01T10:00:00Z,200000,1\n"
        b"gone,t1,2026-11-01T10:00:00Z,200000,1\n"
    )
    log, report = read_listens(
        _write(tmp_path, ("p.csv", body)),
        {"t1"},
        excluded_users={"private"},
        erased_users={"gone"},
    )
    assert list(log.users.ids) == ["u1"]
    assert (report.unknown_track_rows, report.unknown_track_plays) == (1, 3)
    assert (report.opted_out_rows, report.erased_rows) == (1, 1)


def test_missing_header_column_skips_the_file_with_a_message(tmp_path: Path) -> None:
    body = b"user_id,track_id,when\nu1,t1,2026-11-01\n"
    log, report = read_listens(_write(tmp_path, ("p.csv", body)), {"t1"})
    assert len(log) == 0
    assert str(report.issues[0]) == (
        "listens/p.csv:1: header lacks column(s) played_at, ms_played, plays; file skipped"
    )
