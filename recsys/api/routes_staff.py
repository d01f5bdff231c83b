"""Staff endpoints: curator links and reviews, AI flags, the audit trail.

Each edit goes through the same validation and the same state functions as the command-line
tools, which write the change and its audit record in one transaction; the caller's token
name is the actor. Then the live engine catches up before the call returns, so the next radio
(after a link edit) or the next read of a stored mix (after a flag or review) reflects it.
The answers curators read name what they hold (artists of a link; title, artists and label
of a queued track) from the current pool, null where it holds none; a review of a track
nothing knows is a 404 (a typo), while a flag may name a track before its feed arrives.
A committed change answers success even when the store misses that sync
(``"store_sync": "pending"``, see ``recsys.api.trail``): retrying it would repeat it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from pool.audit import read_anonymous_refusals, read_audit
from pool.fields import FieldError, check_score, check_text, check_timestamp
from pool.model import AiFlag, AiReview
from pool.state import add_flag, record_review, review_queue
from recsys.api.auth import AuthFirstRoute, Principal, require_role
from recsys.api.errors import from_field_error, invalid_field, not_found
from recsys.api.responses import json_response
from recsys.api.schemas import (
    CONFLICT_RESPONSE,
    ERROR_RESPONSES,
    AuditOut,
    FlagIn,
    FlagOut,
    Id,
    LinkChangeOut,
    LinkIn,
    LinksOut,
    ReviewIn,
    ReviewOut,
    ReviewQueueOut,
)
from recsys.api.services import Services, services
from recsys.api.trail import synced_after_commit
from recsys.curation.links import make_link, unlinkable_artists
from recsys.curation.pool_names import (
    PoolNames,
    pool_held_tracks,
    pool_label_names,
    unknown_track,
)
from recsys.curation.store import load_links, put_link, remove_link

router = APIRouter(responses=ERROR_RESPONSES, route_class=AuthFirstRoute)
Found = Annotated[Services, Depends(services)]
Curator = Annotated[Principal, Depends(require_role("curator"))]
TrustTeam = Annotated[Principal, Depends(require_role("trust"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
EFFECTIVE_NOW = "at the next read; no retraining needed"


def _why(note: str, field: str = "note") -> str:
    try:
        return check_text(note, field)
    except FieldError as error:
        raise from_field_error(error) from None


@router.get("/v1/curation/links", response_model=LinksOut, name="links.read")
def list_links(
    found: Found,
    _: Curator,
    artist_id: Annotated[Id | None, Query(description="Only links touching this artist.")] = None,
) -> Response:
    links = load_links(found.conn(), artist_id)
    names = PoolNames(artist_names=found.live.current().context.catalog.artist_names)
    return json_response({"links": [names.link(link.as_dict()) for link in links]})


@router.post("/v1/curation/links", response_model=LinkChangeOut, name="links.put")
def put_curator_link(body: LinkIn, request: Request, found: Found, caller: Curator) -> Response:
    try:
        link = make_link(
            artist_a=body.artist_a,
            artist_b=body.artist_b,
            kind=body.kind,
            weight=body.weight,
            curator=caller.name,
            note=_why(body.note),
            created_at=found.now(),
        )
    except FieldError as error:
        raise from_field_error(error) from None
    # The graph's nodes are exactly the current pool's artists.
    refused = unlinkable_artists(link, found.live.current().context.graph)
    if refused:
        field = "artist_a" if refused[0] == link.artist_a else "artist_b"
        raise invalid_field(field, f"not a verified artist of the current pool: {refused[0]}")
    before = put_link(found.conn(), link, why=link.note, role=caller.role)
    store_sync = synced_after_commit(request, found.live.reload)
    return json_response(
        {
            "link": link.as_dict(),
            "before": before,
            "effective": EFFECTIVE_NOW,
            "store_sync": store_sync,
        }
    )


@router.delete(
    "/v1/curation/links/{artist_a}/{artist_b}", response_model=LinkChangeOut, name="links.remove"
)
def delete_curator_link(
    *,
    artist_a: Id,
    artist_b: Id,
    request: Request,
    found: Found,
    caller: Curator,
    why: Annotated[str, Query(description="Why, for the audit trail.")] = "removed through the API",
) -> Response:
    reason = _why(why, "why")
    conn, now = found.conn(), found.now()
    removed = remove_link(
        conn, artist_a, artist_b, by=caller.name, why=reason, role=caller.role, now=now
    )
    if removed is None:
        raise not_found(f"there is no link between {artist_a} and {artist_b}")
    store_sync = synced_after_commit(request, found.live.reload)
    return json_response({"removed": removed, "effective": EFFECTIVE_NOW, "store_sync": store_sync})


@router.post("/v1/flags", response_model=FlagOut, name="flags.add")
def post_flag(body: FlagIn, request: Request, found: Found, caller: TrustTeam) -> Response:
    try:
        score = check_score(body.score, "score")
    except FieldError as error:
        raise from_field_error(error) from None
    why = _why(body.note or f"{body.source} flag through the API")
    flag = AiFlag(body.track_id, body.source, score, found.now())
    add_flag(found.conn(), flag, by=caller.name, why=why, role=caller.role)
    store_sync = synced_after_commit(request, found.live.refresh_exclusions)
    # The engine swapped in the new withheld set before it tried the store.
    withheld = body.track_id in found.live.engine.gate.exclusions.withheld()
    return json_response(
        {
            "track_id": flag.track_id,
            "source": flag.source,
            "score": score,
            "withheld_now": withheld,
            "effective": EFFECTIVE_NOW,
            "store_sync": store_sync,
        }
    )


@router.get("/v1/review", response_model=ReviewQueueOut, name="review.read")
def list_review_queue(found: Found, _: Curator) -> Response:
    catalog = found.live.current().context.catalog
    names = PoolNames(
        artist_names=catalog.artist_names,
        tracks=catalog.tracks,
        label_names=pool_label_names(found.settings.state_dir, catalog.pool_version),
        held=pool_held_tracks(found.settings.state_dir, catalog.pool_version),
    )
    queue = review_queue(found.conn(), found.settings.ai)
    return json_response({"queue": [names.queue_entry(entry) for entry in queue]})


@router.post(
    "/v1/review/{track_id}",
    response_model=ReviewOut,
    name="flags.review",
    responses=CONFLICT_RESPONSE,
)
def post_review(
    track_id: Id, body: ReviewIn, request: Request, found: Found, caller: Curator
) -> Response:
    review = AiReview(track_id, body.decision, caller.name, found.now(), _why(body.note))
    pool_tracks = found.live.current().context.catalog.tracks
    refused = unknown_track(found.conn(), found.settings.state_dir, track_id, pool_tracks)
    if refused is not None:
        raise not_found(refused)
    # A decision the review rules refuse raises ReviewRefusedError: 409, nothing recorded.
    status = record_review(found.conn(), review, role=caller.role, rules=found.settings.ai)
    store_sync = synced_after_commit(request, found.live.refresh_exclusions)
    withheld = track_id in found.live.engine.gate.exclusions.withheld()
    return json_response(
        {
            "track_id": track_id,
            "decision": body.decision,
            "status": status,
            "withheld_now": withheld,
            "store_sync": store_sync,
        }
    )


@router.get("/v1/audit", response_model=AuditOut, name="audit.read")
def get_audit(
    found: Found,
    _: Admin,
    since: Annotated[
        str | None, Query(description="Only entries at or after this ISO 8601 timestamp.")
    ] = None,
) -> Response:
    try:
        moment = check_timestamp(since, "since") if since is not None else None
    except FieldError as error:
        raise from_field_error(error) from None
    conn = found.conn()
    entries = read_audit(conn, moment)
    anonymous = read_anonymous_refusals(conn, moment)
    return json_response(
        {
            "entries": [entry.as_dict() for entry in entries],
            "anonymous_refusals": [row.as_dict() for row in anonymous],
        }
    )
