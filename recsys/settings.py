"""Typed settings, loaded once at an entry point from ``config/default.toml`` and overrides.

Only ``load_settings`` reads files and the environment; everything below the entry point gets
a ``Settings`` value, so the core never depends on where configuration came from.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from pool.ai_status import AiRules
from recsys.embeddings.als import AlsSettings
from recsys.errors import ConfigError
from recsys.generators.context import GeneratorSettings
from recsys.graph.similar_artists import GraphSettings
from recsys.listening.fraud import FraudRules
from recsys.store.redis_store import RedisSettings

DEFAULT_CONFIG_NAME = "default.toml"
ENV_PREFIX = "RECSYS_"
ENV_ALIASES = {"RECSYS_STATE_DIR": ("state", "dir"), "RECSYS_STORE": ("store", "url")}


@dataclass(frozen=True, slots=True)
class DemoSettings:
    users: int
    artists: int
    seed: int
    show_issues: int
    show_tracks: int


@dataclass(frozen=True, slots=True)
class ServeSettings:
    host: str
    port: int
    workers: int
    log_user_ids: str
    rebuild_workers: int
    rebuild_cluster: str
    cache_mib: int
    console_session_minutes: int

    def __post_init__(self) -> None:
        if self.console_session_minutes < 1:
            raise ValueError("console_session_minutes must be at least 1")


@dataclass(frozen=True, slots=True)
class ListeningSettings:
    recent_days: int
    threads: int

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ValueError("threads must be 0 (all cores) or more")

    def thread_count(self, cores: int | None) -> int:
        """Threads for reading and screening the listens: ``threads``, or every one of the
        machine's ``cores`` when it is 0."""
        return self.threads or cores or 1


@dataclass(frozen=True, slots=True)
class Settings:
    state_dir: Path
    store_url: str
    ai: AiRules
    pool_max_shrink: float
    demo: DemoSettings
    listening: ListeningSettings
    fraud: FraudRules
    als: AlsSettings
    graph: GraphSettings
    generators: GeneratorSettings
    redis: RedisSettings
    serve: ServeSettings

    def max_shrink(self, *, allow_shrink: bool) -> float | None:
        """The share of its tracks a new pool may drop (``pool.max_shrink``), or no limit when
        the operator said ``--allow-shrink``."""
        return None if allow_shrink else self.pool_max_shrink


def default_config_path() -> Path:
    """``config/default.toml`` of a source checkout, else the copy installed with the package."""
    here = Path(__file__).resolve().parent
    candidates = [here.parent / "config" / DEFAULT_CONFIG_NAME]
    for prefix in (Path(sys.prefix), Path(sys.base_prefix)):
        candidates.append(prefix / "share" / "recsys" / "config" / DEFAULT_CONFIG_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"cannot find {DEFAULT_CONFIG_NAME}; looked in {[str(c) for c in candidates]}"
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error


def _merge(base: dict[str, Any], override: Mapping[str, Any], origin: str, path: str = "") -> None:
    for key, value in override.items():
        dotted = f"{path}{key}"
        if key not in base:
            raise ConfigError(f"{origin}: unknown setting '{dotted}'")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: '{dotted}' must be a table")
            _merge(base[key], value, origin, dotted + ".")
        else:
            base[key] = value


def _env_value(text: str) -> Any:
    """Environment values are TOML literals when they parse as one, plain strings otherwise."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _env_overrides(environ: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    overrides = []
    for name, text in sorted(environ.items()):
        if name in ENV_ALIASES:
            keys: tuple[str, ...] = ENV_ALIASES[name]
            value: Any = text  # both aliases are strings, never TOML literals
        elif name.startswith(ENV_PREFIX) and "__" in name:
            keys = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
            value = _env_value(text)
        else:
            continue
        nested: dict[str, Any] = {keys[-1]: value}
        for key in reversed(keys[:-1]):
            nested = {key: nested}
        overrides.append((f"environment variable {name}", nested))
    return overrides


def _typed(raw: Mapping[str, Any], dotted: str, kind: type) -> Any:
    section: Any = raw
    for key in dotted.split("."):
        section = section[key]
    if kind is float and isinstance(section, int) and not isinstance(section, bool):
        section = float(section)
    if (isinstance(section, bool) and kind is not bool) or not isinstance(section, kind):
        raise ConfigError(f"setting '{dotted}' must be {_KIND_NAMES[kind]}, got {section!r}")
    return section


_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}
# How a message names each type: "must be an integer", not "must be a int".
_KIND_NAMES: dict[type, str] = {
    int: "an integer",
    float: "a number",
    bool: "true or false",
    str: "a string",
}
S = TypeVar("S")


def _section(raw: Mapping[str, Any], name: str, cls: type[S]) -> S:
    """Build a settings dataclass from the table of the same fields, each type-checked."""
    values = {
        field.name: _typed(raw, f"{name}.{field.name}", _TYPES[str(field.type)])
        for field in fields(cls)  # type: ignore[arg-type]
    }
    try:
        return cls(**values)
    except ValueError as error:
        raise ConfigError(f"settings [{name}]: {error}") from error


def load_settings(config_file: Path | None, environ: Mapping[str, str], cwd: Path) -> Settings:
    """Defaults, then ``config_file``, then the environment; validated into ``Settings``."""
    raw = _read_toml(default_config_path())
    if config_file is not None:
        _merge(raw, _read_toml(config_file), str(config_file))
    for origin, override in _env_overrides(environ):
        _merge(raw, override, origin)
    state_dir = Path(_typed(raw, "state.dir", str))
    demo = _section(raw, "demo", DemoSettings)
    max_shrink = _typed(raw, "pool.max_shrink", float)
    if not 0.0 <= max_shrink <= 1.0:
        raise ConfigError(f"setting 'pool.max_shrink' must be between 0 and 1, got {max_shrink}")
    if demo.users < 1 or demo.artists < 1:
        raise ConfigError("settings [demo]: users and artists must be at least 1")
    return Settings(
        state_dir=state_dir if state_dir.is_absolute() else cwd / state_dir,
        store_url=_typed(raw, "store.url", str),
        ai=_section(raw, "pool.ai", AiRules),
        pool_max_shrink=max_shrink,
        demo=demo,
        listening=_section(raw, "listening", ListeningSettings),
        fraud=_section(raw, "fraud", FraudRules),
        als=_section(raw, "als", AlsSettings),
        graph=_section(raw, "graph", GraphSettings),
        generators=_section(raw, "generators", GeneratorSettings),
        redis=_section(raw, "redis", RedisSettings),
        serve=_section(raw, "serve", ServeSettings),
    )
