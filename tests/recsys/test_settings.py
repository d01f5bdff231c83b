from __future__ import annotations

from pathlib import Path

import pytest

from recsys.errors import ConfigError
from recsys.settings import load_settings


def test_defaults_come_from_config_default_toml(tmp_path: Path) -> None:
    settings = load_settings(None, {}, tmp_path)
    assert settings.state_dir == tmp_path / ".recsys-state"
    assert settings.store_url == "embedded"
    assert settings.ai.exclude_threshold == 0.9
    assert settings.ai.review_threshold == 0.5


def test_file_then_environment_override(tmp_path: Path) -> None:
    override = tmp_path / "site.toml"
    override.write_text("[pool.ai]\nexclude_threshold = 0.8\nreview_threshold = 0.4\n")
    env = {
        "RECSYS_POOL__AI__EXCLUDE_THRESHOLD": "0.95",
        "RECSYS_STATE_DIR": "/srv/recsys",
        "RECSYS_STORE": "redis://127.0.0.1:6379/0",
        "UNRELATED": "x",
    }
    settings = load_settings(override, env, tmp_path)
    assert settings.ai.exclude_threshold == 0.95
    assert settings.ai.review_threshold == 0.4
    assert settings.state_dir == Path("/srv/recsys")
    assert settings.store_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RECSYS_POOL__AI__EXCLUDE_THRESHOLD": "high"}, "must be a float"),
        ({"RECSYS_POOL__AI__REVIEW_THRESHOLD": "0.95"}, "review_threshold <= exclude_threshold"),
        ({"RECSYS_DEMO__USERS": "true"}, "must be a int"),
        ({"RECSYS_NOPE__KEY": "1"}, "unknown setting 'nope'"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env, tmp_path)


def test_bad_config_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[pool.ai\n")
    with pytest.raises(ConfigError, match=r"broken\.toml is not valid TOML"):
        load_settings(broken, {}, tmp_path)
