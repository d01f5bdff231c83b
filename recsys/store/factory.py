"""Opening the configured store: ``embedded`` or a ``redis://`` URL (``RECSYS_STORE``)."""

from __future__ import annotations

from recsys.errors import ConfigError
from recsys.settings import Settings
from recsys.store.base import MixStore
from recsys.store.embedded import EmbeddedStore
from recsys.store.redis_store import RedisStore


def open_store(settings: Settings) -> MixStore:
    url = settings.store_url
    if url == "embedded":
        return EmbeddedStore(settings.state_dir)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url, settings.redis)
    raise ConfigError(f"store.url must be 'embedded' or a redis:// URL, got {url!r}")
