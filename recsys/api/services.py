"""What every route needs, built once by the app factory and reached through ``services()``.

Settings and the clock are given to the factory (time and configuration are parameters), so
tests can run the whole API at a fixed moment on a temporary state.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime

from fastapi import Request

from pool.fields import is_utf8_encodable
from recsys.api.live import Clock, LiveEngine, StateConnections
from recsys.domain.exclusions import NO_EXCLUSIONS, UserExclusions
from recsys.engine.loading import Engine
from recsys.settings import Settings
from recsys.state.privacy import hash_user
from recsys.state.users import load_exclusions
from recsys.store.base import MixStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    state: StateConnections
    store: MixStore
    live: LiveEngine
    user_key: bytes

    def now(self) -> datetime:
        return self.clock()

    def conn(self) -> sqlite3.Connection:
        """This thread's state connection."""
        return self.state.current()

    def user_ref(self, user_id: str) -> str:
        """A user id as logs may show it: a keyed hash, or nothing (``log_user_ids``)."""
        if self.settings.serve.log_user_ids == "none":
            return "user:-"
        return self.audit_subject(user_id)

    def audit_subject(self, user_id: str) -> str:
        """A user as the audit trail names them: always the keyed hash. The trail must say
        whom a record is about, and it must never hold a raw id, which erasure could not
        remove from an append-only log.

        An id UTF-8 cannot encode (a lone surrogate a refused call sent) names no user and
        cannot be hashed: it is recorded as such rather than failing the refusal's record."""
        if not is_utf8_encodable(user_id):
            return "user:(not valid UTF-8)"
        return f"user:{hash_user(self.user_key, user_id)}"

    def engine_at_now(self) -> Engine:
        return self.live.current().at(self.clock())

    def engine_for(self, user_id: str) -> tuple[Engine, UserExclusions]:
        """The engine for one listener's request, with their exclusions read fresh from the
        state: a "don't play this" from the app counts at the very next read, even when
        another server process recorded it."""
        exclusions = load_exclusions(self.conn(), user_id).get(user_id, NO_EXCLUSIONS)
        # The engine's exclusions are only ever looked up for this user during the request,
        # so a one-entry mapping replaces the (possibly stale) table loaded with the engine.
        engine = replace(self.engine_at_now(), exclusions={user_id: exclusions})
        return engine, exclusions


async def services(request: Request) -> Services:
    """FastAPI dependency: the app's services (async: a sync dependency would cost every
    request a hop to the thread pool)."""
    found: Services = request.app.state.services
    return found
