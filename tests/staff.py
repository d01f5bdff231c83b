"""The engine's runs as staff start them: the data directory's trust files imported first.

Trust enters the registry only through a named staff action (`recsys trust import`), never
through a pool build or a rebuild; these wrappers do that action (idempotent: only ids the
registry has never seen are granted), then run the real thing.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from recsys.jobs.rebuild import STAGES, run_rebuild
from recsys.settings import Settings
from recsys.training.run import TrainingRun, run_training
from tests.factories import grant_trust, staff_import

# Where a test may act during a rebuild: before each of its stages (the stage hook), and
# between two chunks of generation ("generate", through the progress callback).
INJECTION_POINTS = (*STAGES[:-1], "generate", STAGES[-1])


def trusted_rebuild(settings: Settings, data_dir: Path, *args: Any, **options: Any) -> Any:
    grant_trust(settings.state_dir, data_dir)
    return run_rebuild(settings, data_dir, *args, **options)


def trusted_training(
    conn: sqlite3.Connection,
    state_dir: Path,
    data_dir: Path,
    settings: Settings,
    now: datetime,
    **options: Any,
) -> TrainingRun:
    staff_import(conn, data_dir)
    return run_training(conn, state_dir, data_dir, settings, now, **options)
