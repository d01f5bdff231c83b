from __future__ import annotations

import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from recsys.errors import ConfigError
from recsys.settings import default_config_path, load_settings
from tests.conftest import REDIS_URL


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
        "RECSYS_STORE": REDIS_URL,
        "UNRELATED": "x",
    }
    settings = load_settings(override, env, tmp_path)
    assert settings.ai.exclude_threshold == 0.95
    assert settings.ai.review_threshold == 0.4
    assert settings.state_dir == Path("/srv/recsys")
    assert settings.store_url == REDIS_URL


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RECSYS_POOL__AI__EXCLUDE_THRESHOLD": "high"}, "must be a number"),
        ({"RECSYS_POOL__AI__REVIEW_THRESHOLD": "0.95"}, "review_threshold <= exclude_threshold"),
        ({"RECSYS_DEMO__USERS": "true"}, "must be an integer"),
        ({"RECSYS_NOPE__KEY": "1"}, "unknown setting 'nope'"),
        ({"RECSYS_LISTENING__THREADS": "-1"}, r"\[listening\]: threads must be 0"),
        (
            {"RECSYS_GENERATORS__MIX_FAMILIAR_ARTISTS": "-2"},
            r"\[generators\]: mix_familiar_artists must be 0",
        ),
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


def test_every_documented_key_is_a_setting_and_every_setting_is_documented(
    tmp_path: Path,
) -> None:
    def leaves(table: dict[str, object], prefix: str = "") -> set[str]:
        keys: set[str] = set()
        for key, value in table.items():
            if isinstance(value, dict):
                keys |= leaves(value, f"{prefix}{key}.")
            else:
                keys.add(f"{prefix}{key}")
        return keys

    documented = leaves(tomllib.loads(default_config_path().read_text()))
    settings = load_settings(None, {}, tmp_path)
    sections = {
        "ai": "pool.ai",
        "state_dir": "state.dir",
        "store_url": "store.url",
        "pool_max_shrink": "pool.max_shrink",
    }
    used: set[str] = set()
    for field in fields(settings):
        value = getattr(settings, field.name)
        if is_dataclass(value):
            name = sections.get(field.name, field.name)
            used |= {f"{name}.{inner.name}" for inner in fields(value)}
        else:
            used.add(sections[field.name])
    assert documented == used
    rows = default_config_path().read_text().splitlines()
    for key in documented:
        line = next(
            i for i, row in enumerate(rows) if row.startswith(f"{key.rsplit('.', 1)[-1]} =")
        )
        while line > 0 and " = " in rows[line - 1] and not rows[line - 1].startswith("#"):
            line -= 1  # a group of keys shares the comment above the group
        assert rows[line - 1].startswith("#"), f"{key} has no comment above it"


def test_listening_threads_zero_means_every_core(tmp_path: Path) -> None:
    settings = load_settings(None, {}, tmp_path)
    assert settings.listening.threads == 0
    assert settings.listening.thread_count(16) == 16
    assert settings.listening.thread_count(None) == 1
    pinned = load_settings(None, {"RECSYS_LISTENING__THREADS": "3"}, tmp_path)
    assert pinned.listening.thread_count(16) == 3
