"""The one switch: what a rebuild (or a training run) produced becomes current together.

A rebuild writes a pool snapshot, a model folder (factors and listening history) and a store
version while staff, the app and erasures keep working. None of it is served until this
switch, which runs as one write transaction on the state:

1. the tombstones are read again, and anyone erased since the run started is removed from
   the new model's files and from the new store version (an erasure is never undone);
2. what is withheld now (flags, reviews, takedowns, revoked trust) is computed from the state
   as it is at this moment and given to the store, so no exclusion made during the run is
   lost (an edit committed later waits for this transaction, then syncs the store itself);
3. the store version is checked and made current, then the ``pool`` and ``model`` pointers
   move, and the transaction commits.

An erasure's tombstone and a staff edit are write transactions on the same state, so each
lands wholly before or wholly after the switch: before, and the switch honours it; after,
and it acts on what the switch published. If anything fails, nothing moves: the previous
pool, model and mixes stay served (docs/contract.md section 6, invariant 7).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pool.ai_status import AiRules
from pool.importer import POOL_POINTER
from pool.model import Track
from pool.state import get_pointer, load_serving_exclusions, set_pointer, transaction
from recsys.state.privacy import current_tombstones, erase_from_artefacts, user_hash_key
from recsys.store.base import MixStore, VersionWriter

log = logging.getLogger(__name__)

MODEL_POINTER = "model"
MODELS_DIR = "models"


@dataclass(frozen=True, slots=True)
class Release:
    """A run's pool and model, written but not yet current, and the tombstones it read."""

    pool_version: str
    model_version: str
    tombstones: frozenset[str]  # the keyed hashes of users erased when the run started


@dataclass(frozen=True, slots=True)
class MixesRelease:
    """A rebuild's store version: every user it wrote, through ``writer``."""

    store: MixStore
    writer: VersionWriter
    users: Sequence[str]


def publish_release(
    conn: sqlite3.Connection,
    state_dir: Path,
    release: Release,
    rules: AiRules,
    now: datetime,
    *,
    pool_tracks: Mapping[str, Track],
    mixes: MixesRelease | None = None,
) -> dict[str, int]:
    """Make ``release`` (and its mixes) current in one transaction; returns how many users
    erased during the run were removed. Raises with nothing switched on failure."""
    user_hash_key(conn, now)  # made at the run's start; never inside the transaction below
    erased_users = 0
    with transaction(conn):
        tombstones = current_tombstones(conn)
        if not tombstones.hashes <= release.tombstones:
            removed = erase_from_artefacts(
                state_dir / MODELS_DIR, release.model_version, tombstones.erased
            )
            log.info("users erased during the run removed from its model: %s", removed)
            if mixes is not None:
                gone = [user for user in mixes.users if tombstones.erased(user)]
                for user in gone:
                    mixes.store.delete_user(user)
                erased_users = len(gone)
        if mixes is not None:
            exclusions = load_serving_exclusions(conn, rules, release.pool_version, pool_tracks)
            mixes.store.replace_excluded_tracks(exclusions.withheld())
            mixes.writer.commit(len(mixes.users) - erased_users)
        set_pointer(conn, POOL_POINTER, release.pool_version, now)
        set_pointer(conn, MODEL_POINTER, release.model_version, now)
    prune_models(state_dir / MODELS_DIR, keep=release.model_version)
    return {"users_erased_during_run": erased_users}


def discard_release(conn: sqlite3.Connection, state_dir: Path, release: Release) -> None:
    """After a failed run: its model folder goes (it may hold users erased meanwhile, and
    nothing will ever read it), unless it is the current model (same inputs, same version)."""
    if get_pointer(conn, MODEL_POINTER) != release.model_version:
        shutil.rmtree(state_dir / MODELS_DIR / release.model_version, ignore_errors=True)


def prune_models(models: Path, *, keep: str | None) -> None:
    """Delete every model folder but the current one: older models (and those of killed
    runs) hold the factors and histories of users who may have been erased since, and
    nothing reads them any more."""
    if not models.is_dir():
        return
    for folder in models.iterdir():
        if folder.is_dir() and folder.name != keep:
            shutil.rmtree(folder, ignore_errors=True)
