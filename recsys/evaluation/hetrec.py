"""Loader for the hetrec2011-lastfm-2k data set (real Last.fm listening data).

The offline quality report (docs/contract.md section 7) measures artist recommendations on this
data set, so the loader keeps only what that report needs: the play-count matrix, artist names and
each artist's most used tags (for the tag-coherence metric). Files are the original tab-separated
ones with a header line, re-encoded as UTF-8.

A bad input is reported as a ``ValueError`` naming the file and the line, never as an
``IndexError`` from deep inside the parser: the data set is given by path on the command line,
and a user who points ``recsys evaluate`` at the wrong folder must learn which file is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

__all__ = ["HetrecData", "is_hetrec_dir", "load_hetrec"]

USER_ARTISTS = "user_artists.dat"
ARTISTS = "artists.dat"
TAGS = "tags.dat"
TAGGED = "user_taggedartists.dat"

DEFAULT_TOP_TAGS = 10


@dataclass(frozen=True, eq=False)
class HetrecData:
    """The listening data and artist tags of hetrec2011-lastfm-2k.

    Row ``u`` of ``plays`` is the user ``user_ids[u]``; column ``a`` is the artist
    ``artist_ids[a]``, named ``artist_names[a]`` with top tags ``artist_tags[a]`` (most assigned
    first, at most ``top_tags`` of them, empty when nobody tagged the artist).

    ``tag_assignments`` keeps the raw (user row, artist column, tag index into ``tag_names``)
    triples, one row per assignment (user row -1 for a tagger with no listening data), so that an
    evaluation can rebuild artist tags without the assignments of held-out (user, artist) pairs:
    see :meth:`top_tags`.
    """

    user_ids: tuple[str, ...]
    artist_ids: tuple[str, ...]
    plays: sp.csr_matrix
    artist_names: tuple[str, ...]
    artist_tags: tuple[tuple[str, ...], ...]
    tag_names: tuple[str, ...] = ()
    tag_assignments: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))

    @property
    def n_users(self) -> int:
        """Number of users (rows of ``plays``)."""
        return len(self.user_ids)

    @property
    def n_artists(self) -> int:
        """Number of artists (columns of ``plays``)."""
        return len(self.artist_ids)

    def tag_sets(self) -> list[frozenset[str]]:
        """Each artist's top tags as a set, the form :func:`coherence` expects."""
        return [frozenset(tags) for tags in self.artist_tags]

    def tag_counts(self, exclude: sp.spmatrix | sp.sparray | None = None) -> sp.csr_matrix:
        """Artists × tags matrix (float32) of assignment counts, without ``exclude``'s pairs.

        ``exclude`` is a users × artists matrix (typically the test half of a split): a tag that
        user ``u`` put on artist ``a`` is dropped when ``(u, a)`` is stored in it. Without this, a
        model that uses tags would see a trace of the held-out pairs (users tag the artists they
        listen to), and its figures would flatter it.
        """
        return _tag_counts(self.tag_assignments, len(self.tag_names), self.plays.shape, exclude)

    def top_tags(
        self,
        top: int = DEFAULT_TOP_TAGS,
        exclude: sp.spmatrix | sp.sparray | None = None,
    ) -> tuple[tuple[str, ...], ...]:
        """Each artist's ``top`` most assigned tags (ties by name), as :meth:`tag_counts` counts."""
        return _rank_tags(self.tag_counts(exclude), self.tag_names, top)


def _tag_counts(
    assignments: np.ndarray,
    n_tags: int,
    shape: tuple[int, int],
    exclude: sp.spmatrix | sp.sparray | None,
) -> sp.csr_matrix:
    """Count (artist, tag) assignments, dropping those on pairs stored in ``exclude``."""
    users, artists, tags = (assignments[:, j] for j in range(3))
    if exclude is not None and len(assignments):
        ex = sp.csr_matrix(exclude)
        if ex.shape != shape:
            raise ValueError(f"exclude has shape {ex.shape}, expected {shape}")
        known = users >= 0
        held_out = np.zeros(len(assignments), dtype=bool)
        held_out[known] = np.asarray(ex[users[known], artists[known]]).ravel() != 0
        artists, tags = artists[~held_out], tags[~held_out]
    counts = sp.csr_matrix(
        (np.ones(len(artists), dtype=np.float32), (artists, tags)),
        shape=(shape[1], n_tags),
        dtype=np.float32,
    )
    counts.sum_duplicates()
    counts.sort_indices()
    return counts


def _rank_tags(
    counts: sp.csr_matrix, tag_names: tuple[str, ...], top: int
) -> tuple[tuple[str, ...], ...]:
    """Each row's ``top`` columns by count, ties by tag name, as tag names."""
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")
    name_rank = np.empty(len(tag_names), dtype=np.int64)
    name_rank[np.argsort(np.asarray(tag_names, dtype=object), kind="stable")] = np.arange(
        len(tag_names)
    )
    result: list[tuple[str, ...]] = []
    for row in range(counts.shape[0]):
        lo, hi = counts.indptr[row], counts.indptr[row + 1]
        cols, values = counts.indices[lo:hi], counts.data[lo:hi]
        order = np.lexsort((name_rank[cols], -values))[:top]
        result.append(tuple(tag_names[c] for c in cols[order]))
    return tuple(result)


def is_hetrec_dir(path: str | Path) -> bool:
    """True when ``path`` looks like the hetrec2011-lastfm-2k folder (it has user_artists.dat).

    ``recsys evaluate --data DIR`` accepts either a data directory or this folder; this is the
    test that tells them apart.
    """
    return (Path(path) / USER_ARTISTS).is_file()


def _rows(
    path: Path, n_fields: int, *, min_fields: int | None = None
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for each data line of a hetrec file, header skipped.

    Lines with fewer than ``min_fields`` (default ``n_fields``) fields raise ``ValueError`` with
    the file and line; extra fields are ignored and missing optional ones are padded with "".
    Blank lines are skipped.
    """
    need = n_fields if min_fields is None else min_fields
    if not path.is_file():
        raise ValueError(f"{path}: missing file (is this the hetrec2011-lastfm-2k folder?)")
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\r\n")
                if lineno == 1 or not line.strip():
                    continue  # header line / blank line
                fields = line.split("\t")
                if len(fields) < need:
                    raise ValueError(
                        f"{path}:{lineno}: expected {need} tab-separated fields, "
                        f"got {len(fields)}: {line[:80]!r}"
                    )
                fields += [""] * (n_fields - len(fields))
                yield lineno, fields[:n_fields]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def _id(value: str, path: Path, lineno: int, what: str) -> str:
    """Return a non-empty id field, else raise ``ValueError`` naming file, line and field."""
    value = value.strip()
    if not value:
        raise ValueError(f"{path}:{lineno}: empty {what}")
    return value


def _number(value: str, path: Path, lineno: int, what: str) -> float:
    """Parse a finite, non-negative number field, else raise ``ValueError`` with file and line."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{path}:{lineno}: {what} is not a number: {value!r}") from None
    if not np.isfinite(number) or number < 0:
        raise ValueError(f"{path}:{lineno}: {what} must be a non-negative number, got {value!r}")
    return number


def load_hetrec(folder: str | Path, *, top_tags: int = DEFAULT_TOP_TAGS) -> HetrecData:
    """Load hetrec2011-lastfm-2k from ``folder``.

    Artists are those of ``artists.dat`` in file order, then any artist that only appears in
    ``user_artists.dat`` (named ""). Users are in order of first appearance in
    ``user_artists.dat``. A repeated (user, artist) row adds its plays. Tag assignments for
    artists or tags the other files do not know are ignored (the real data has 390 tagged artists
    missing from ``artists.dat``); an artist's tags are ranked by the number of assignments, ties
    by tag name so the result is deterministic.

    Raises ``ValueError`` (with file and line) on a missing file or a malformed row.
    """
    if top_tags < 0:
        raise ValueError(f"top_tags must be >= 0, got {top_tags}")
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a directory")

    artist_index: dict[str, int] = {}
    names: list[str] = []
    path = folder / ARTISTS
    for lineno, (raw_aid, name, _url, _pic) in _rows(path, 4, min_fields=2):
        aid = _id(raw_aid, path, lineno, "artist id")
        if aid in artist_index:
            raise ValueError(f"{path}:{lineno}: duplicate artist id {aid!r}")
        artist_index[aid] = len(names)
        names.append(name)

    user_index: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    path = folder / USER_ARTISTS
    for lineno, (raw_uid, raw_aid, weight) in _rows(path, 3):
        uid = _id(raw_uid, path, lineno, "user id")
        aid = _id(raw_aid, path, lineno, "artist id")
        plays = _number(weight, path, lineno, "weight (play count)")
        if aid not in artist_index:
            artist_index[aid] = len(names)
            names.append("")
        rows.append(user_index.setdefault(uid, len(user_index)))
        cols.append(artist_index[aid])
        vals.append(plays)

    tag_index: dict[str, int] = {}
    tag_names: list[str] = []
    path = folder / TAGS
    for lineno, (raw_tid, value) in _rows(path, 2):
        tid = _id(raw_tid, path, lineno, "tag id")
        if tid in tag_index:
            raise ValueError(f"{path}:{lineno}: duplicate tag id {tid!r}")
        tag_index[tid] = len(tag_names)
        tag_names.append(value.strip())

    triples: list[tuple[int, int, int]] = []
    path = folder / TAGGED
    for lineno, (raw_uid, raw_aid, raw_tid, *_date) in _rows(path, 6, min_fields=3):
        uid = _id(raw_uid, path, lineno, "user id")
        aid = _id(raw_aid, path, lineno, "artist id")
        tid = _id(raw_tid, path, lineno, "tag id")
        col = artist_index.get(aid)
        tag = tag_index.get(tid)
        if col is not None and tag is not None and tag_names[tag]:
            triples.append((user_index.get(uid, -1), col, tag))

    shape = (len(user_index), len(names))
    matrix = sp.csr_matrix(
        (np.asarray(vals, dtype=np.float32), (np.asarray(rows), np.asarray(cols))),
        shape=shape,
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    ids_by_col = [""] * len(names)
    for aid, col in artist_index.items():
        ids_by_col[col] = aid
    assignments = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    return HetrecData(
        user_ids=tuple(user_index),
        artist_ids=tuple(ids_by_col),
        plays=matrix,
        artist_names=tuple(names),
        artist_tags=_rank_tags(
            _tag_counts(assignments, len(tag_names), shape, None), tuple(tag_names), top_tags
        ),
        tag_names=tuple(tag_names),
        tag_assignments=assignments,
    )
