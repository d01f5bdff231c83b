"""Session fixture of the console tests: one small world, generated and rebuilt once."""

from __future__ import annotations

import pytest

from tests.recsys.api.world import RebuiltWorld
from tests.recsys.console.world import rebuild_console_world


@pytest.fixture(scope="session")
def console_world(tmp_path_factory: pytest.TempPathFactory) -> RebuiltWorld:
    return rebuild_console_world(tmp_path_factory.mktemp("console-world"))
