"""``recsys evaluate`` on a data directory with ``holdout.csv``: do listeners discover the artists
they went on to play? (docs/contract.md section 7, "Discovery")

The figures describe what listeners get, not a model of it: the directory is rebuilt by the
code ``recsys rebuild`` runs (pool, fraud screen, training, graph, generators, final filter)
into a throwaway state and embedded store, and each listener's mixes and Release Radar are read
back through the serving path (``recsys mixes``, ``GET /v1/users/{id}/mixes``). ``holdout.csv``
is read here only, never by the pipeline.

For each surface (the stored personal mixes together, and the Release Radar) and each evaluated
listener, the *new artists* are the distinct artists of the output the listener has no training
listens of (no plays in the play matrix the engine trained on), in order of appearance:

* ``precision``: the share of a listener's new artists that are in their holdout, averaged
  over the listeners with at least one new artist;
* ``recall``: the share of a listener's holdout artists that appear as new artists, averaged
  over all evaluated listeners;
* ``new_artists_per_listener``: the mean number of new artists, over all evaluated listeners;
* ``coherence``: the mean pairwise Jaccard overlap of the artists' top tags
  (``recsys.evaluation.metrics.list_coherence``) among the artists of each mix (familiar and
  new), averaged over the mixes; artist tags are their pool tracks' tags (the catalogue's).

The baseline is plain ``implicit`` ALS trained on that same listener x artist play matrix, with
its settings tuned on validation (``report.PLAIN_ALS_TUNED``, the same baseline as the hetrec
report's), no tags, ranked by implicit's ``recommend`` over the pool artists the listener has
not played. Each listener's ALS list holds as many artists as the surface gave them new
artists, so precision compares the same count per listener. ALS's ``coherence`` is that of its
lists themselves (the contract's "plain ALS's top new artists"); ``coherence_in_place`` is like
with like: the served mixes (or radar) with ALS's new artists in the places of the engine's,
the familiar artists kept (for the engine, both are its own coherence). ``ratio`` is engine /
ALS per figure. Evaluated listeners: those with at least one holdout artist who are in the
play matrix (the fraud screen's flagged accounts are not: the report counts them).
"""

from __future__ import annotations

import csv
import logging
import os
import sqlite3
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from pool.fields import FieldError, check_id
from pool.importer import load_current_pool
from pool.trust_import import import_trust_files
from recsys.domain.exclusions import NO_EXCLUSIONS
from recsys.domain.vocabulary import Vocabulary
from recsys.embeddings.als import AlsSettings, confidence
from recsys.embeddings.tag_space import artist_tag_counts
from recsys.engine.loading import Engine, load_engine
from recsys.evaluation.metrics import list_coherence
from recsys.evaluation.report import PLAIN_ALS_TUNED, plain_als_top, top_tag_sets
from recsys.jobs.rebuild import run_rebuild
from recsys.serving.answers import read_release_radar, read_user_mixes
from recsys.settings import Settings
from recsys.state.schema import open_engine_state
from recsys.store.base import MixStore
from recsys.store.factory import open_store
from recsys.training.run import pool_artist_tags

__all__ = [
    "FIGURES",
    "HEADINGS",
    "HOLDOUT_FILE",
    "REPORT_KIND",
    "SURFACES",
    "Served",
    "als_new_artists",
    "als_rankings",
    "discovery_scores",
    "evaluate_holdout",
    "format_holdout_report",
    "has_holdout",
    "in_place",
    "mean_coherence",
    "new_artists",
    "play_matrix",
    "read_holdout",
    "serve_holdout",
    "surface_report",
]

log = logging.getLogger(__name__)

HOLDOUT_FILE = "holdout.csv"  # docs/contract.md section 2
REPORT_KIND = "data directory with holdout"
#: what listeners get, in report order: the stored personal mixes, and the Release Radar
SURFACES = ("mixes", "release_radar")
FIGURES = ("precision", "recall", "new_artists_per_listener", "coherence", "coherence_in_place")
HEADINGS = {
    "precision": "precision",
    "recall": "recall",
    "new_artists_per_listener": "new/listener",
    "coherence": "coherence",
    "coherence_in_place": "in place",
}
STAFF = "recsys-evaluate"
DIGITS = 4


# ---------------------------------------------------------------------------------- input


def has_holdout(data_dir: Path) -> bool:
    """True when ``data_dir`` carries ``holdout.csv`` (the evaluation-only file of
    docs/contract.md section 2)."""
    return (Path(data_dir) / HOLDOUT_FILE).is_file()


def read_holdout(data_dir: Path) -> dict[str, frozenset[str]]:
    """Each listener's held-out artists from ``holdout.csv`` (``user_id,artist_id``).

    Raises ``ValueError`` naming the file and line of the first row that is not two ids
    (the file is the evaluation's ground truth: a row skipped silently would bend every figure).
    """
    path = Path(data_dir) / HOLDOUT_FILE
    held: dict[str, set[str]] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:2]] != ["user_id", "artist_id"]:
                raise ValueError(f"{path}:1: expected the header user_id,artist_id")
            for row in reader:
                if not row:
                    continue
                user, artist = _holdout_row(row, path, reader.line_num)
                held.setdefault(user, set()).add(artist)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not valid UTF-8 ({error.reason})") from None
    except csv.Error as error:
        raise ValueError(f"{path}: malformed CSV ({error})") from None
    return {user: frozenset(artists) for user, artists in held.items()}


def _holdout_row(row: list[str], path: Path, line: int) -> tuple[str, str]:
    if len(row) != 2:
        raise ValueError(f"{path}:{line}: expected 2 fields user_id,artist_id, got {len(row)}")
    try:
        return check_id(row[0], "user_id"), check_id(row[1], "artist_id")
    except FieldError as error:
        raise ValueError(f"{path}:{line}: {error}") from None


# ----------------------------------------------------------------------------- pure figures


def new_artists(lists: Iterable[Sequence[str]], played: Collection[str]) -> list[str]:
    """The distinct artists of ``lists`` not in ``played``, in order of first appearance."""
    seen: dict[str, None] = {}
    for artists in lists:
        for artist in artists:
            if artist not in played:
                seen.setdefault(artist, None)
    return list(seen)


def discovery_scores(
    new: Sequence[Sequence[str]], holdout: Sequence[Collection[str]]
) -> dict[str, float]:
    """Precision, recall and new artists per listener of each listener's ``new`` artists
    against their ``holdout`` (see the module docstring; listener ``i`` is ``new[i]``,
    ``holdout[i]``). ``hits`` is the total of new artists that are held out."""
    if len(new) != len(holdout):
        raise ValueError(f"{len(new)} listeners' new artists but {len(holdout)} holdouts")
    hits = [len(set(n) & set(h)) for n, h in zip(new, holdout, strict=True)]
    precision = [hit / len(set(n)) for hit, n in zip(hits, new, strict=True) if n]
    recall = [hit / len(h) for hit, h in zip(hits, holdout, strict=True) if h]
    return {
        "precision": float(np.mean(precision)) if precision else 0.0,
        "recall": float(np.mean(recall)) if recall else 0.0,
        "new_artists_per_listener": float(np.mean([len(set(n)) for n in new])) if new else 0.0,
        "hits": float(sum(hits)),
    }


def mean_coherence(lists: Iterable[Sequence[str]], tags: Mapping[str, Collection[str]]) -> float:
    """Mean over ``lists`` of the pairwise tag overlap of their artists
    (``list_coherence``); lists with nothing to measure (fewer than two artists, or only
    untagged ones) are skipped; 0.0 when none is left."""
    vocabulary = Vocabulary()
    indexed = [[vocabulary.add(a) for a in artists] for artists in lists]
    tag_sets = [tags.get(a, frozenset()) for a in vocabulary.ids]
    values = [v for items in indexed if (v := list_coherence(items, tag_sets)) is not None]
    return float(np.mean(values)) if values else 0.0


def als_rankings(plays: sp.csr_matrix, settings: AlsSettings, depth: int) -> list[list[int]]:
    """Plain implicit ALS's best ``depth`` artists (columns) for every row of ``plays``, best
    first, among those the row has not played.

    Trained on all of ``plays`` with the engine's confidence (``recsys.embeddings.als.
    confidence``) and hyper-parameters, no tags; BLAS pinned to one thread as implicit asks.
    """
    depth = min(depth, plays.shape[1])
    if depth <= 0 or plays.shape[0] == 0:
        return [[] for _ in range(plays.shape[0])]
    conf = confidence(sp.csr_matrix(plays, dtype=np.float32), settings)
    ranked = plain_als_top(conf, settings, depth)
    return [[int(a) for a in row if a >= 0] for row in ranked]


def als_new_artists(
    plays: sp.csr_matrix, settings: AlsSettings, counts: Sequence[int]
) -> list[list[int]]:
    """Plain ALS's best ``counts[u]`` unplayed artists for each row ``u`` (``als_rankings``)."""
    if len(counts) != plays.shape[0]:
        raise ValueError(f"{len(counts)} counts for {plays.shape[0]} listeners")
    ranked = als_rankings(plays, settings, max(counts, default=0))
    return [row[:n] for row, n in zip(ranked, counts, strict=True)]


def _ratio(engine: float, baseline: float) -> float | None:
    return round(engine / baseline, DIGITS) if baseline > 0 else None


def in_place(
    lists: Sequence[Sequence[str]], new: Sequence[str], replacements: Sequence[str]
) -> list[list[str]]:
    """``lists`` with their ``k``-th new artist (in ``new``'s order) replaced by
    ``replacements[k]``: the same familiar artists in the same places, another ranker's new
    artists in the new artists' slots (a new artist with no replacement is dropped)."""
    swap = dict(zip(new, replacements, strict=False))
    fresh = set(new)
    result = []
    for artists in lists:
        placed = [swap.get(a) if a in fresh else a for a in artists]
        result.append(list(dict.fromkeys(a for a in placed if a is not None)))
    return result


def surface_report(
    served: Sequence[Sequence[Sequence[str]]],
    played: Sequence[Collection[str]],
    holdout: Sequence[Collection[str]],
    als_lists: Sequence[Sequence[str]],
    tags: Mapping[str, Collection[str]],
) -> dict[str, dict[str, float | None]]:
    """One surface's figures: ``served[i]`` is listener ``i``'s lists (their mixes, or their
    one radar) as artist lists; ``als_lists[i]`` the ALS list at their count of new artists.

    Two coherences for ALS: ``coherence`` of its lists themselves (the contract's "plain ALS's
    top new artists"), and ``coherence_in_place`` of the served lists with ALS's new artists
    in place of the engine's (``in_place``: like with like, the familiar artists kept); for
    the engine both are the served lists' coherence."""
    new = [new_artists(lists, p) for lists, p in zip(served, played, strict=True)]
    own = mean_coherence((lst for lists in served for lst in lists), tags)
    engine = discovery_scores(new, holdout) | {"coherence": own, "coherence_in_place": own}
    swapped = (
        lst
        for lists, n, a in zip(served, new, als_lists, strict=True)
        for lst in in_place(lists, n, a)
    )
    als = discovery_scores(als_lists, holdout) | {
        "coherence": mean_coherence(als_lists, tags),
        "coherence_in_place": mean_coherence(swapped, tags),
    }
    return {
        "engine": {k: round(v, DIGITS) for k, v in engine.items()},
        "als": {k: round(v, DIGITS) for k, v in als.items()},
        "ratio": {k: _ratio(engine[k], als[k]) for k in FIGURES},
    }


# --------------------------------------------------------------------- the pipeline's side


@dataclass(frozen=True)
class Served:
    """What the throwaway rebuild served the evaluated listeners, and what they played."""

    users: list[str]
    mixes: list[list[list[str]]]  # per listener, per mix, its artists in track order
    radar: list[list[list[str]]]  # per listener, their one radar as a list of one list
    plays: sp.csr_matrix  # listeners x artists: the plays the engine trained on, everyone's
    rows: list[int]  # the evaluated listeners' rows of ``plays``, in ``users`` order
    artists: Vocabulary  # the columns of ``plays``
    tag_vectors: sp.csr_matrix  # per column of ``plays``: the tags the engine trained with
    tags: dict[str, frozenset[str]]
    left_out: int  # holdout listeners not in the play matrix (fraud-flagged, no pool listens)
    rebuild: dict[str, Any]


def _mix_artists(mix: Mapping[str, Any]) -> list[str]:
    """A served mix's distinct artists, in track order (every credited artist)."""
    seen: dict[str, None] = {}
    for track in mix["tracks"]:
        for artist in track["artist_ids"]:
            seen.setdefault(artist, None)
    return list(seen)


def play_matrix(engine: Engine) -> tuple[sp.csr_matrix, Vocabulary, Vocabulary]:
    """The listener x artist plays the engine trained on, from its listening history: the
    history holds the same screened, capped plays per (listener, pool track) that
    ``artist_play_matrix`` credits to every main artist of the track."""
    history, tracks = engine.history, engine.context.catalog.tracks
    artists = Vocabulary()
    credits = [
        [artists.add(a) for a in (tracks[t].artist_ids if t in tracks else ())]
        for t in history.tracks.ids
    ]
    rows, cols, vals = [], [], []
    for user in range(len(history.users)):
        lo, hi = int(history.indptr[user]), int(history.indptr[user + 1])
        for track, plays in zip(
            history.track[lo:hi].tolist(), history.plays[lo:hi].tolist(), strict=True
        ):
            for column in credits[track]:
                rows.append(user)
                cols.append(column)
                vals.append(plays)
    matrix = sp.csr_matrix(
        (np.asarray(vals, dtype=np.float32), (rows, cols)),
        shape=(len(history.users), len(artists)),
    )
    matrix.sum_duplicates()
    return matrix, history.users, artists


def _artist_tags(conn: sqlite3.Connection, state_dir: Path) -> dict[str, frozenset[str]]:
    """Every pool artist's top tags from its pool tracks, as coherence sees them."""
    pool = load_current_pool(conn, state_dir)
    vocabulary = Vocabulary(sorted(pool.artists))
    counts, tag_vocab = artist_tag_counts(vocabulary, pool_artist_tags(pool))
    return dict(zip(vocabulary.ids, top_tag_sets(counts, tag_vocab.ids), strict=True))


def serve_holdout(
    data_dir: Path, settings: Settings, now: datetime, holdout: Mapping[str, Collection[str]]
) -> Served:
    """Rebuild ``data_dir`` into a throwaway state and read back what each holdout listener
    is served. The throwaway state has no staff, so the directory's ``trust/`` files are
    imported by a staff action named for the evaluation (as an operator would), never by the
    pool build."""
    with tempfile.TemporaryDirectory(prefix="recsys-evaluate-") as tmp:
        local = replace(settings, state_dir=Path(tmp) / "state", store_url="embedded")
        conn = open_engine_state(local.state_dir)
        try:
            import_trust_files(
                conn,
                data_dir,
                by=STAFF,
                why="the discovery evaluation's throwaway state trusts the directory's registry",
                now=now,
            )
        finally:
            conn.close()
        store = open_store(local)
        try:
            summary = run_rebuild(
                local,
                data_dir,
                now,
                progress=lambda _done, _total: None,
                workers=settings.serve.rebuild_workers or os.cpu_count() or 1,
                store=store,
            )
            conn = open_engine_state(local.state_dir)
            try:
                engine = load_engine(conn, local.state_dir, local, now)
                tags = _artist_tags(conn, local.state_dir)
            finally:
                conn.close()
            return _read_served(engine, store, holdout, tags, summary)
        finally:
            store.close()


def _trained_tags(engine: Engine, artists: Vocabulary) -> sp.csr_matrix:
    """The model's artist tag vectors (unit rows) in ``artists``' order: what the engine
    trained with, for tuning its recipe on the same inputs (empty rows: no model)."""
    model = engine.context.model
    if model is None:
        return sp.csr_matrix((len(artists), 0), dtype=np.float32)
    rows = [model.artists.index_of(a) for a in artists.ids]
    present = [i for i, r in enumerate(rows) if r is not None]
    picked = model.artist_tags[[r for r in rows if r is not None]].tocoo()
    return sp.csr_matrix(
        (picked.data, (np.asarray(present, np.int64)[picked.row], picked.col)),
        shape=(len(artists), model.artist_tags.shape[1]),
        dtype=np.float32,
    )


def _read_served(
    engine: Engine,
    store: MixStore,
    holdout: Mapping[str, Collection[str]],
    tags: dict[str, frozenset[str]],
    summary: dict[str, Any],
) -> Served:
    plays, users, artists = play_matrix(engine)
    tag_vectors = _trained_tags(engine, artists)
    evaluated = [u for u in sorted(holdout) if users.index_of(u) is not None]
    rows = [row for u in evaluated if (row := users.index_of(u)) is not None]
    mixes, radar = [], []
    for user in evaluated:
        exclusions = engine.exclusions.get(user, NO_EXCLUSIONS)
        mixes.append(
            [_mix_artists(m) for m in read_user_mixes(engine, store, user, exclusions)["mixes"]]
        )
        radar.append([_mix_artists(read_release_radar(engine, store, user, exclusions))])
    return Served(
        users=evaluated,
        mixes=mixes,
        radar=radar,
        plays=plays,
        rows=rows,
        artists=artists,
        tag_vectors=tag_vectors,
        tags=tags,
        left_out=len(holdout) - len(evaluated),
        rebuild={
            "pool_tracks": summary["pool"]["admitted"],
            "pool_rejected": summary["pool"]["rejected"],
            "listen_rows": summary["listens"]["kept_rows"],
            "accounts_flagged": summary["fraud"]["accounts_flagged"],
            "accounts_by_rule": {
                k: v for k, v in summary["fraud"]["accounts_by_rule"].items() if v
            },
            "users": summary["generation"]["users"],
            "seconds": round(sum(summary["seconds"].values()), 1),
        },
    )


def evaluate_holdout(
    data_dir: Path, settings: Settings, now: datetime, holdout: Mapping[str, Collection[str]]
) -> dict[str, Any]:
    """The discovery report on ``data_dir`` (see the module docstring), rebuilt as of ``now``;
    ``holdout`` is ``read_holdout(data_dir)``."""
    served = serve_holdout(Path(data_dir), settings, now, holdout)
    indptr, columns, ids = served.plays.indptr, served.plays.indices, served.artists.ids
    played = [frozenset(ids[c] for c in columns[indptr[r] : indptr[r + 1]]) for r in served.rows]
    held = [holdout[u] for u in served.users]
    outputs = dict(zip(SURFACES, (served.mixes, served.radar), strict=True))
    counts = {
        surface: [len(new_artists(ls, p)) for ls, p in zip(lists, played, strict=True)]
        for surface, lists in outputs.items()
    }
    # One ALS model for both surfaces, trained on every listener the engine trained on.
    depth = max((n for c in counts.values() for n in c), default=0)
    ranked = als_rankings(served.plays, replace(settings.als, **PLAIN_ALS_TUNED), depth)
    report: dict[str, Any] = {
        "kind": REPORT_KIND,
        "now": now.isoformat(),
        "listeners": {
            "with_holdout": len(holdout),
            "evaluated": len(served.users),
            "left_out": served.left_out,
        },
        "rebuild": served.rebuild,
    }
    for surface, lists in outputs.items():
        als = [
            [ids[a] for a in ranked[row][:n]]
            for row, n in zip(served.rows, counts[surface], strict=True)
        ]
        report[surface] = surface_report(lists, played, held, als, served.tags)
        log.info("%s: %s", surface, report[surface])
    return report


def format_holdout_report(report: Mapping[str, Any]) -> str:
    """A human table of the discovery report: per surface, engine, ALS and their ratio."""
    people, rebuild = report["listeners"], report["rebuild"]
    lines = [
        f"discovery: {people['evaluated']} listeners evaluated of {people['with_holdout']} with "
        f"a holdout ({people['left_out']} not in the play matrix: fraud screen "
        f"{rebuild['accounts_by_rule'] or 'none'}); rebuild as of {report['now']} "
        f"in {rebuild['seconds']} s",
        f"{'':<24}" + "".join(f"{HEADINGS[f]:>14}" for f in FIGURES),
    ]
    labels = {"engine": "", "als": "  plain ALS, same count", "ratio": "  engine / ALS"}
    for surface in SURFACES:
        for row, label in labels.items():
            values = report[surface][row]
            name = label or surface.replace("_", " ")
            cells = "".join(
                f"{values[f]:>14.4f}" if values.get(f) is not None else f"{'-':>14}"
                for f in FIGURES
            )
            lines.append(f"{name:<24}{cells}")
    return "\n".join(lines)
