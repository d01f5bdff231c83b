"""On what basis a listener's answer is built: their own history, or why not.

Whether to personalise is the engine's decision (``Engine.listener``: not for an erased,
opted-out or unknown listener, nor one without a history); this module only puts the "why
not" into words (``recsys.domain.mix.BASES``), so an app can tell a cold-start or fallback
answer from a personal one and say so. It never decides anything the engine did not.
"""

from __future__ import annotations

from recsys.domain.mix import (
    NO_HISTORY,
    NO_LISTENER,
    NO_MODEL,
    OPTED_OUT,
    PERSONAL_BASIS,
    UNKNOWN_LISTENER,
    Basis,
)
from recsys.engine.loading import Engine
from recsys.generators.batch import ChunkUser

__all__ = ["basis_of", "listener_basis"]


def listener_basis(engine: Engine, user: ChunkUser) -> Basis:
    """The basis of ``user``'s answers, as the engine personalises them (``user`` being the
    engine's own ``listener`` or ``profile`` of them)."""
    if user.personalised:
        return PERSONAL_BASIS
    user_id = user.user_id
    if engine.tombstones.erased(user_id):
        return UNKNOWN_LISTENER  # an erased listener is a stranger again, and is told nothing else
    if user_id in engine.optouts:
        return OPTED_OUT
    if engine.context.model is None:
        return NO_MODEL
    # Known without a history to build on: in the model's history with none left (their
    # plays screened out as fraud), following artists, or excluding some. (The API hands
    # the engine a one-entry exclusions table for every request, so an entry alone says
    # nothing: only one that holds something does.)
    excluded = engine.exclusions.get(user_id)
    if (
        engine.history.users.index_of(user_id) is not None
        or user_id in engine.follows
        or (excluded is not None and bool(excluded.artists or excluded.tracks))
    ):
        return NO_HISTORY
    return UNKNOWN_LISTENER


def basis_of(engine: Engine, user: ChunkUser | None) -> Basis:
    """``listener_basis``, or for an answer asked for no listener (a radio) ``NO_LISTENER``."""
    return NO_LISTENER if user is None else listener_basis(engine, user)
