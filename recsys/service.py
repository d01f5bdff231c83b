"""The answers of the listener-facing read paths, as JSON-ready values.

One function per endpoint of SPEC section 5, shared by the CLI (`recsys mixes`, ...) and the
HTTP API, so both print exactly the same JSON. Every mix passes the final filter inside
``run_generator`` before it is returned.
"""

from __future__ import annotations

from typing import Any

from recsys.engine import Engine
from recsys.errors import NotFoundError
from recsys.generators.registry import GenerationRequest, run_generator
from recsys.graph.similar_artists import similar_artists
from recsys.mix import Mix


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
