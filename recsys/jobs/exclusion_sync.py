"""Keeping the store's set of excluded tracks in step with the state's flags, takedowns and
trust revocations.

Stored mixes are filtered at every read against that set, so a flag or a revocation must reach
it at once: every command or endpoint that changes flags, reviews, takedowns or the trust
registry calls ``publish_exclusions``.
"""

from __future__ import annotations

import sqlite3

from pool.errors import SnapshotError
from pool.gate import ServingExclusions
from pool.importer import load_current_pool
from pool.state import load_serving_exclusions
from recsys.settings import Settings
from recsys.store.factory import open_store


def publish_exclusions(conn: sqlite3.Connection, settings: Settings) -> ServingExclusions:
    """Recompute what is withheld now (against the current pool, when there is one) and
    write it to the configured store."""
    try:
        pool = load_current_pool(conn, settings.state_dir)
    except SnapshotError:
        exclusions = load_serving_exclusions(conn, settings.ai)
    else:
        exclusions = load_serving_exclusions(conn, settings.ai, pool.version, pool.tracks)
    store = open_store(settings)
    try:
        store.replace_excluded_tracks(exclusions.withheld())
    finally:
        store.close()
    return exclusions
