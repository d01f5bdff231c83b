"""The first rebuild after an install says it is compiling (issue 14, item 6, in part)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import recsys.jobs.rebuild
from recsys.jobs.rebuild import STAGES
from recsys.world import WorldConfig, generate_world
from tests.recsys.api.world import NOW, TODAY, settings_for
from tests.staff import trusted_rebuild


def test_an_empty_numba_cache_counts_as_not_compiled(tmp_path: Path) -> None:
    environ = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "empty-cache"))
    answer = subprocess.run(
        [
            sys.executable,
            "-c",
            "from recsys.jobs.rebuild import compiled_code_cached as c; print(c())",
        ],
        capture_output=True,
        text=True,
        env=environ,
        check=True,
        timeout=120,
    )
    assert answer.stdout.strip() == "False"


def test_a_rebuild_announces_the_compile_before_it_prepares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_world(tmp_path / "data", WorldConfig(users=60, artists=20, seed=3, today=TODAY))
    said: list[str] = []
    stages: list[str] = []

    def hook(stage: str) -> None:
        stages.append(stage)
        if stage == "prepare":
            assert said, "announced before the prepare stage starts"

    monkeypatch.setattr(recsys.jobs.rebuild, "compiled_code_cached", lambda: False)
    trusted_rebuild(
        settings_for(tmp_path / "state"),
        tmp_path / "data",
        NOW,
        progress=lambda done, total: None,
        workers=1,
        stage_hook=hook,
        announce=said.append,
    )
    assert stages == list(STAGES)  # every stage named to the hook, in order
    assert len(said) == 1
    assert said[0].startswith("compiling the generators")
