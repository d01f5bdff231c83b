"""The listener reads, open to the app's network: health, stored mixes, radios, similar artists.

Each answer comes from one call into ``recsys.serving.answers``, the same function the CLI
prints, so the CLI and the API answer with the same JSON. A user the engine has never seen gets
cold-start mixes, not 404. The endpoints are async: ``recsys.api.reads`` says why, and what
runs where.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from recsys.api.auth import AuthFirstRoute
from recsys.api.reads import ListenerReads
from recsys.api.responses import json_response
from recsys.api.schemas import ERROR_RESPONSES, HealthOut, Id, MixOut, SimilarOut, UserMixesOut
from recsys.api.services import Services
from recsys.serving import answers

# The route class checks tokens before bodies; these reads declare no role, so it changes
# nothing for them, but a role-checked route added here later gets the same order.
router = APIRouter(route_class=AuthFirstRoute)
Limit = Annotated[int | None, Query(ge=1, le=500, description="At most this many tracks.")]
SimilarLimit = Annotated[int, Query(ge=1, le=500, description="At most this many artists.")]
UserParam = Annotated[Id | None, Query(description="Personalise for this listener.")]


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _reads(request: Request) -> ListenerReads:
    reads: ListenerReads = request.app.state.reads
    return reads


@router.get(
    "/healthz",
    response_model=HealthOut,
    name="health.read",
    responses={503: {"model": HealthOut, "description": "The store does not answer"}},
)
async def healthz(request: Request) -> Response:
    """503 only when the store does not answer (listeners then get non-personalised mixes).

    A store that answers but holds no mixes (never rebuilt, or restarted empty) is 200 with
    status "degraded" and ``store_empty``: the server still serves mixes generated on request,
    so a load balancer must keep it, while a person reading the answer learns that a rebuild
    is due. ``store_version`` names the published version listeners are served.
    """
    found = _services(request)
    engine = found.live.current()
    health = _reads(request).store_health()
    body: dict[str, str | None] = {
        "status": "ok",
        "store": found.store.name,
        "store_version": health.version,
        "pool_version": engine.gate.pool_version,
        "model_version": engine.context.model_version,
    }
    if not health.answers:
        body |= {
            "status": "degraded",
            "error": "store_unavailable",
            "detail": "the store did not answer a ping; listeners get non-personalised mixes",
        }
        return json_response(body, 503)
    if health.version is None:
        body |= {
            "status": "degraded",
            "error": "store_empty",
            "detail": "the store holds no published mixes (never rebuilt, or restarted empty);"
            " mixes are generated on request until the next rebuild",
        }
    return json_response(body, 200)


@router.get(
    "/v1/users/{user_id}/mixes",
    response_model=UserMixesOut,
    name="mixes.read",
    responses=ERROR_RESPONSES,
)
async def user_mixes(user_id: Id, request: Request) -> Response:
    return _reads(request).stored(user_id, "mixes")


@router.get(
    "/v1/users/{user_id}/release-radar",
    response_model=MixOut,
    name="release_radar.read",
    responses=ERROR_RESPONSES,
)
async def release_radar(user_id: Id, request: Request) -> Response:
    return _reads(request).stored(user_id, "release_radar")


@router.get(
    "/v1/radio/artist/{artist_id}",
    response_model=MixOut,
    name="radio.artist",
    responses=ERROR_RESPONSES,
)
async def artist_radio(
    artist_id: Id, request: Request, user_id: UserParam = None, limit: Limit = None
) -> Response:
    return _reads(request).radio("artist", artist_id, user_id, limit)


@router.get(
    "/v1/radio/track/{track_id}",
    response_model=MixOut,
    name="radio.track",
    responses=ERROR_RESPONSES,
)
async def track_radio(
    track_id: Id, request: Request, user_id: UserParam = None, limit: Limit = None
) -> Response:
    return _reads(request).radio("track", track_id, user_id, limit)


@router.get(
    "/v1/artists/{artist_id}/similar",
    response_model=SimilarOut,
    name="similar.read",
    responses=ERROR_RESPONSES,
)
async def similar(artist_id: Id, request: Request, limit: SimilarLimit = 20) -> Response:
    # A few graph lookups: cheaper than a hop to the thread pool.
    return json_response(answers.similar(_services(request).live.current(), artist_id, limit))
