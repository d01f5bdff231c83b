"""The answers of the listener-facing read paths, as JSON-ready values.

One function per endpoint of SPEC section 5, shared by the CLI (`recsys mixes`, ...) and the
HTTP API, so both print exactly the same JSON. Every mix passes the final filter inside
``run_generator`` before it is returned.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from recsys.engine import Engine
from recsys.errors import NotFoundError
from recsys.final_filter import StoredReadGate, final_filter
from recsys.generators.context import anonymous
from recsys.generators.registry import GenerationRequest, run_generator
from recsys.generators.steps import UserExclusions
from recsys.graph.similar_artists import similar_artists
from recsys.mix import Mix, MixTrack, Reason
from recsys.store.base import MixStore, StoreUnavailableError, decode_user

log = logging.getLogger(__name__)


def _only(mixes: tuple[Mix, ...]) -> Mix:
    return mixes[0]


def user_mixes(engine: Engine, user_id: str) -> dict[str, Any]:
    request = GenerationRequest(user=engine.profile(user_id))
    result, _ = run_generator("personal_mixes", engine.context, request, engine.gate)
    return {"user_id": user_id, "mixes": [m.as_dict() for m in result.mixes]}


def release_radar(engine: Engine, user_id: str) -> dict[str, Any]:
    request = GenerationRequest(user=engine.profile(user_id))
    result, _ = run_generator("release_radar", engine.context, request, engine.gate)
    return _only(result.mixes).as_dict()


def _limited(mix: Mix, limit: int | None) -> dict[str, Any]:
    return (mix if limit is None else mix.with_tracks(mix.tracks[:limit])).as_dict()


def artist_radio(
    engine: Engine, artist_id: str, user_id: str | None, limit: int | None
) -> dict[str, Any]:
    if artist_id not in engine.context.graph:
        raise NotFoundError(f"unknown artist: {artist_id} is not a verified artist of the pool")
    user = engine.profile(user_id) if user_id is not None else None
    request = GenerationRequest(user=user, seed_artist=artist_id)
    result, _ = run_generator("artist_radio", engine.context, request, engine.gate)
    return _limited(_only(result.mixes), limit)


def track_radio(
    engine: Engine, track_id: str, user_id: str | None, limit: int | None
) -> dict[str, Any]:
    if not engine.gate.allows(track_id) or track_id not in engine.context.catalog.tracks:
        raise NotFoundError(f"unknown track: {track_id} is not a playable track of the pool")
    user = engine.profile(user_id) if user_id is not None else None
    request = GenerationRequest(user=user, seed_track=track_id)
    result, _ = run_generator("track_radio", engine.context, request, engine.gate)
    return _limited(_only(result.mixes), limit)


def similar(engine: Engine, artist_id: str, limit: int) -> dict[str, Any]:
    graph = engine.context.graph
    if artist_id not in graph:
        raise NotFoundError(f"unknown artist: {artist_id} is not a verified artist of the pool")
    return {
        "artist_id": artist_id,
        "similar": [
            {"artist_id": s.artist_id, "score": round(s.score, 4), "source": s.source}
            for s in similar_artists(graph, artist_id, limit)
        ],
    }


def _hydrate(engine: Engine, compact: dict[str, Any]) -> Mix:
    """A stored compact mix with titles and artists from the current pool (a track the pool
    no longer holds keeps no metadata and is removed by the final filter)."""
    tracks = []
    for track_id, reason_type, via in compact["tracks"]:
        track = engine.context.catalog.tracks.get(track_id)
        tracks.append(
            MixTrack(
                track_id,
                track.artist_ids if track else (),
                track.title if track else "",
                Reason(reason_type, via),
            )
        )
    return Mix(
        mix_id=compact["mix_id"],
        kind=compact["kind"],
        title=compact["title"],
        generated_at=datetime.fromisoformat(compact["generated_at"]),
        pool_version=compact["pool_version"],
        model_version=compact["model_version"],
        tracks=tuple(tracks),
    )


StoredPart = Literal["mixes", "release_radar"]


def _stored(
    engine: Engine, store: MixStore, user_id: str, exclusions: UserExclusions, part: StoredPart
) -> list[Mix] | None:
    """The user's stored mixes after the final filter, or None when the store has none (or
    holds an erased user's, as a store restored from a snapshot taken before would)."""
    if engine.tombstones.erased(user_id):
        return None
    payload = store.read_user(user_id)
    if payload is None:
        return None
    document = decode_user(payload)
    compact = document["mixes"] if part == "mixes" else [document["release_radar"]]
    mixes = [_hydrate(engine, m) for m in compact if m is not None]
    track_ids = sorted({t.track_id for m in mixes for t in m.tracks})
    gate = StoredReadGate(engine.gate, store.excluded_among(track_ids))
    return [final_filter(m, gate, exclusions)[0] for m in mixes]


def read_user_mixes(
    engine: Engine, store: MixStore, user_id: str, exclusions: UserExclusions
) -> dict[str, Any]:
    """``GET /v1/users/{id}/mixes``: the stored mixes, filtered now. A user the store does not
    know gets mixes generated on the spot (non-personalised when the engine has never seen
    them); when the store does not answer, non-personalised mixes that pass the gate."""
    try:
        stored = _stored(engine, store, user_id, exclusions, "mixes")
    except StoreUnavailableError as error:
        log.warning("store unavailable, serving non-personalised mixes: %s", error)
        return _fallback(engine, user_id, exclusions, "personal_mixes")
    if stored is None:
        return user_mixes(engine, user_id)
    return {"user_id": user_id, "mixes": [m.as_dict() for m in stored]}


def read_release_radar(
    engine: Engine, store: MixStore, user_id: str, exclusions: UserExclusions
) -> dict[str, Any]:
    try:
        stored = _stored(engine, store, user_id, exclusions, "release_radar")
    except StoreUnavailableError as error:
        log.warning("store unavailable, serving a non-personalised release radar: %s", error)
        return _fallback(engine, user_id, exclusions, "release_radar")
    if not stored:
        return release_radar(engine, user_id)
    return stored[0].as_dict()


def _fallback(
    engine: Engine, user_id: str, exclusions: UserExclusions, name: str
) -> dict[str, Any]:
    request = GenerationRequest(user=anonymous(user_id, exclusions))
    result, _ = run_generator(name, engine.context, request, engine.gate)
    if name == "personal_mixes":
        return {"user_id": user_id, "mixes": [m.as_dict() for m in result.mixes]}
    return _only(result.mixes).as_dict()
