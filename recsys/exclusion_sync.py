"""Keeping the store's set of excluded tracks in step with the state's flags and takedowns.

Stored mixes are filtered at every read against that set, so a flag must reach it at once:
every command or endpoint that changes flags, reviews or takedowns calls ``publish_exclusions``.
"""

from __future__ import annotations

import sqlite3

from pool.gate import ServingExclusions
from pool.state import load_serving_exclusions
from recsys.settings import Settings
from recsys.store.factory import open_store


def publish_exclusions(conn: sqlite3.Connection, settings: Settings) -> ServingExclusions:
    """Recompute what is withheld now and write it to the configured store."""
    exclusions = load_serving_exclusions(conn, settings.ai)
    store = open_store(settings)
    try:
        store.replace_excluded_tracks(exclusions.withheld())
    finally:
        store.close()
    return exclusions
