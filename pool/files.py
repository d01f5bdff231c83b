"""Crash-safe file publishing shared by every artefact writer (snapshots, models, histories).

A reader must never see half a file or half a folder: each file goes through a temporary
name and ``os.replace``; a folder is filled under a staging name and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def replace_file(folder: Path, name: str, write: Callable[[BinaryIO], object]) -> None:
    """Write ``folder/name`` through a temporary file, so a crash leaves the old file."""
    handle, staging = tempfile.mkstemp(prefix=f".{name}-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, folder / name)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


def publish_folder(
    target: Path,
    complete_marker: str,
    fill: Callable[[Path], None],
    intact: Callable[[Path], bool] = lambda _folder: True,
) -> Path:
    """Create ``target`` by filling a staging folder beside it and renaming it into place.

    A complete copy (``complete_marker`` present) that ``intact`` accepts is kept as it is,
    since folders are named by their content; an incomplete leftover of a crash, or a copy
    damaged since, is replaced.
    """
    if (target / complete_marker).is_file() and intact(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        fill(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
