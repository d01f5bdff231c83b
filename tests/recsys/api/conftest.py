"""Session fixture of the API tests: one small world, generated and rebuilt once."""

from __future__ import annotations

import pytest

from tests.recsys.api.world import RebuiltWorld, rebuild_world


@pytest.fixture(scope="session")
def rebuilt_world(tmp_path_factory: pytest.TempPathFactory) -> RebuiltWorld:
    return rebuild_world(tmp_path_factory.mktemp("api-world"))
