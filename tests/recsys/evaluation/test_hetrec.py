"""The hetrec2011-lastfm-2k loader, on tiny folders written here (never the real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluation.hetrec import is_hetrec_dir, load_hetrec

FILES = {
    "artists.dat": (
        "id\tname\turl\tpictureURL\n"
        "10\tMetallica\thttp://x/1\thttp://p/1\n"
        "20\tBjörk\thttp://x/2\n"  # no pictureURL: allowed
        "30\tAphex Twin\thttp://x/3\thttp://p/3\n"
    ),
    "tags.dat": "tagID\ttagValue\n1\tmetal\n2\trock\n3\telectronic\n4\ticelandic\n",
    "user_artists.dat": (
        "userID\tartistID\tweight\n"
        "2\t10\t100\n"
        "2\t20\t5\n"
        "7\t30\t40\n"
        "7\t10\t3\n"
        "2\t10\t1\n"  # repeated pair: plays add up
    ),
    "user_taggedartists.dat": (
        "userID\tartistID\ttagID\tday\tmonth\tyear\n"
        "2\t10\t1\t1\t4\t2009\n"
        "7\t10\t1\t1\t4\t2009\n"
        "7\t10\t2\t1\t4\t2009\n"
        "2\t20\t4\t1\t4\t2009\n"
        "2\t20\t3\t1\t4\t2009\n"
        "7\t20\t3\t1\t4\t2009\n"
        "2\t99\t1\t1\t4\t2009\n"  # artist unknown to artists.dat: ignored
        "9\t30\t3\t1\t4\t2009\n"  # tagger without listening data
    ),
}


def write(folder: Path, **overrides: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**FILES, **overrides}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_load_tiny_folder(tmp_path: Path) -> None:
    data = load_hetrec(write(tmp_path))
    assert data.user_ids == ("2", "7")
    assert data.artist_ids == ("10", "20", "30")
    assert data.artist_names == ("Metallica", "Björk", "Aphex Twin")
    assert isinstance(data.plays, sp.csr_matrix)
    assert data.plays.dtype == np.float32
    np.testing.assert_array_equal(data.plays.toarray(), [[101, 5, 0], [3, 0, 40]])
    # counts: metal 2, rock 1 / electronic 2, icelandic 1 / electronic 1
    assert data.artist_tags == (("metal", "rock"), ("electronic", "icelandic"), ("electronic",))
    assert data.tag_sets()[1] == frozenset({"electronic", "icelandic"})
    assert (data.n_users, data.n_artists) == (2, 3)


def test_top_tags_limit_and_ties_by_name(tmp_path: Path) -> None:
    data = load_hetrec(write(tmp_path), top_tags=1)
    assert data.artist_tags == (("metal",), ("electronic",), ("electronic",))
    # one "zzz" and one "aaa" on artist 30: a tie, broken by name, not by id or file order
    tags = FILES["tags.dat"] + "5\tzzz\n6\taaa\n"
    tagged = FILES["user_taggedartists.dat"] + "2\t30\t5\t1\t1\t2010\n7\t30\t6\t1\t1\t2010\n"
    data = load_hetrec(
        write(tmp_path / "tie", **{"tags.dat": tags, "user_taggedartists.dat": tagged})
    )
    assert data.artist_tags[2] == ("aaa", "electronic", "zzz")
    assert data.top_tags(1)[2] == ("aaa",)
    # leaving out user 7's pair with artist 30 drops its "aaa": "electronic" and "zzz" remain
    assert data.top_tags(exclude=sp.csr_matrix([[0, 0, 0], [0, 0, 1]]))[2] == (
        "electronic",
        "zzz",
    )


def test_tag_counts_leave_out_excluded_pairs(tmp_path: Path) -> None:
    data = load_hetrec(write(tmp_path))
    full = data.tag_counts()
    assert full.shape == (3, 4)
    np.testing.assert_array_equal(full.toarray(), [[2, 1, 0, 0], [0, 0, 2, 1], [0, 0, 1, 0]])
    # user 2's pairs with artists 10 and 20 are held out: their tags go too
    held_out = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 0]]))
    np.testing.assert_array_equal(
        data.tag_counts(exclude=held_out).toarray(), [[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]]
    )
    assert data.top_tags(exclude=held_out)[1] == ("electronic",)
    with pytest.raises(ValueError, match="shape"):
        data.tag_counts(exclude=sp.csr_matrix((3, 3)))


def test_malformed_row_names_file_and_line(tmp_path: Path) -> None:
    bad = "userID\tartistID\tweight\n2\t10\t100\n2\t20\n"
    with pytest.raises(ValueError, match=r"user_artists\.dat:3: expected 3"):
        load_hetrec(write(tmp_path, **{"user_artists.dat": bad}))


def test_bad_number_names_file_and_line(tmp_path: Path) -> None:
    bad = "userID\tartistID\tweight\n2\t10\tlots\n"
    with pytest.raises(ValueError, match=r"user_artists\.dat:2: weight .* not a number"):
        load_hetrec(write(tmp_path, **{"user_artists.dat": bad}))
    bad = "userID\tartistID\tweight\n2\t10\t-4\n"
    with pytest.raises(ValueError, match=r"user_artists\.dat:2: .*non-negative"):
        load_hetrec(write(tmp_path, **{"user_artists.dat": bad}))


def test_malformed_tag_assignment(tmp_path: Path) -> None:
    bad = "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t10\n"
    with pytest.raises(ValueError, match=r"user_taggedartists\.dat:2"):
        load_hetrec(write(tmp_path, **{"user_taggedartists.dat": bad}))


def test_duplicate_artist_id(tmp_path: Path) -> None:
    bad = "id\tname\turl\tpictureURL\n10\tA\tu\tp\n10\tB\tu\tp\n"
    with pytest.raises(ValueError, match=r"artists\.dat:3: duplicate artist id"):
        load_hetrec(write(tmp_path, **{"artists.dat": bad}))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    folder = write(tmp_path / "data")
    (folder / "tags.dat").unlink()
    with pytest.raises(ValueError, match=r"tags\.dat: missing file"):
        load_hetrec(folder)
    with pytest.raises(ValueError, match="not a directory"):
        load_hetrec(tmp_path / "nowhere")


def test_not_utf8(tmp_path: Path) -> None:
    folder = write(tmp_path)
    (folder / "artists.dat").write_bytes(b"id\tname\turl\tpictureURL\n1\tBj\xf6rk\tu\tp\n")
    with pytest.raises(ValueError, match=r"artists\.dat: not valid UTF-8"):
        load_hetrec(folder)


def test_is_hetrec_dir(tmp_path: Path) -> None:
    assert is_hetrec_dir(write(tmp_path / "h"))
    assert not is_hetrec_dir(tmp_path)
