"""Request bodies and response shapes of the API, for validation and for ``/openapi.json``.

Bodies are strict (no string-to-number coercion, no unknown keys) so a client's mistake is a
422 naming the field instead of a silently different request. Ids go through the same
``pool.fields.check_id`` as the command line and the feeds, free text through the same
``check_text``; both refuse text UTF-8 cannot encode (a lone surrogate such as ``"\\ud800"``,
which JSON allows), naming the field, before it can reach SQLite or a renderer as a 500.
Literal choices refuse it by not matching. Responses are documented here but
rendered from the service's plain dicts (see ``recsys.api.responses``): the read path never
pays for a second validation of what the engine already built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pool.fields import check_id, check_text
from recsys.domain.mix import Basis

# check_id raises FieldError, a ValueError, which pydantic reports with the field's location.
Id = Annotated[
    str,
    AfterValidator(lambda value: check_id(value, "id")),
    Field(description="An opaque id: 1-128 characters, no control characters."),
]


# Free text kept in the audit trail: 1-1,024 characters (0 allowed for an optional note),
# no control characters, encodable as UTF-8.
Note = Annotated[
    str,
    AfterValidator(lambda value: check_text(value, "note")),
    Field(description="Why: kept in the audit trail (1-1,024 characters)."),
]
OptionalNote = Annotated[
    str,
    AfterValidator(lambda value: check_text(value, "note", allow_empty=True)),
    Field(description="Why, for the audit trail (optional, at most 1,024 characters)."),
]
StoreSync = Literal["done", "pending"]
STORE_SYNC_DESCRIPTION = (
    "The change is committed and audited either way. 'pending': the mix store did not answer"
    " the sync that follows; the change is served already and the store catches up at the"
    " server's next check (within about a second of the store answering again). Do not"
    " repeat the call."
)


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class LinkIn(Body):
    artist_a: Id
    artist_b: Id
    kind: Literal["similar", "block"]
    weight: float | None = Field(
        default=None, description="0.0-1.0, how similar; required for 'similar', not for 'block'"
    )
    note: Note


class FlagIn(Body):
    track_id: Id
    source: Literal["detector", "label", "curator", "listener"]
    score: float = Field(description="0.0-1.0: how likely the track is fully AI-generated.")
    note: OptionalNote = ""


class ReviewIn(Body):
    decision: Literal["exclude", "clear"]
    note: Note


class ExclusionIn(Body):
    kind: Literal["artist", "track"]
    id: Id


class ReasonOut(BaseModel):
    type: Literal["history", "curated_link", "als_neighbour", "followed_artist", "seed"]
    via: dict[str, Any]


class TrackOut(BaseModel):
    track_id: str
    artist_ids: list[str]
    artist_names: list[str] = Field(
        description="The artists' names, in the order of artist_ids (the pool's names)."
    )
    title: str
    reason: ReasonOut


class MixOut(BaseModel):
    mix_id: str
    kind: Literal["mix", "release_radar", "artist_radio", "track_radio"]
    title: str
    generated_at: str
    pool_version: str
    model_version: str
    personalised: bool = Field(
        description="Whether the mix was built from this listener's own listening history."
    )
    basis: Basis = Field(
        description="What the mix was built on: 'your listening history' when personalised,"
        " otherwise why not ('unknown listener', 'opted out', 'no listening history yet',"
        " 'no model yet', 'store unavailable', or for a radio asked for no listener"
        " 'no listener given')."
    )
    tracks: list[TrackOut]


class UserMixesOut(BaseModel):
    user_id: str
    mixes: list[MixOut]


class SimilarArtistOut(BaseModel):
    artist_id: str
    name: str | None = None  # the pool's name for it (a curator recognises names, not ids)
    score: float
    source: str


class SimilarOut(BaseModel):
    artist_id: str
    artist_name: str | None = None
    similar: list[SimilarArtistOut]


class HealthOut(BaseModel):
    """``/healthz``; a degraded answer says why in ``error`` and ``detail``."""

    status: Literal["ok", "degraded"]
    store: str
    store_version: str | None = None
    pool_version: str
    model_version: str
    error: str | None = None
    detail: str | None = None


class ErrorOut(BaseModel):
    error: str
    detail: str
    field: str | None = None


class LinkOut(BaseModel):
    artist_a: str
    artist_b: str
    kind: Literal["similar", "block"]
    weight: float
    curator: str
    note: str
    created_at: str
    artist_a_name: str | None = Field(
        default=None,
        description="The artist's name in the current pool; null when the pool does not hold"
        " it (GET /v1/curation/links only).",
    )
    artist_b_name: str | None = Field(
        default=None,
        description="The artist's name in the current pool; null when the pool does not hold"
        " it (GET /v1/curation/links only).",
    )


class LinksOut(BaseModel):
    links: list[LinkOut]


class LinkChangeOut(BaseModel):
    link: LinkOut | None = None
    before: dict[str, Any] | None = None
    removed: dict[str, Any] | None = None
    effective: str
    store_sync: StoreSync = Field(description=STORE_SYNC_DESCRIPTION)


class FlagOut(BaseModel):
    track_id: str
    source: str
    score: float
    withheld_now: bool
    effective: str
    store_sync: StoreSync = Field(description=STORE_SYNC_DESCRIPTION)


class SecondApprovalOut(BaseModel):
    requested_by: str
    requested_at: str
    note: str


class NamedArtistOut(BaseModel):
    artist_id: str
    name: str | None = Field(description="null when the current pool does not hold the artist")


class NamedLabelOut(BaseModel):
    label_id: str
    name: str | None = Field(description="null when the current pool does not hold the label")


class ReviewQueueItem(BaseModel):
    track_id: str
    max_score: float
    waiting_for: Literal["review", "second_approval", "review_of_listener_reports"] = Field(
        description="What the track waits for: a curator's review (withheld meanwhile), a"
        " second curator's approval of a clear (excluded meanwhile), or a review of listener"
        " reports (still served)."
    )
    awaiting_second_approval: SecondApprovalOut | None = None
    title: str | None = Field(
        description="The track's title in the current pool; null (with no artists, label or"
        " partner) when the pool does not hold it, e.g. a track the review band withheld at"
        " the last pool build or one flagged before its feed arrived."
    )
    artists: list[NamedArtistOut]
    label: NamedLabelOut | None
    partner: str | None


class ReviewQueueOut(BaseModel):
    queue: list[ReviewQueueItem]


class ReviewOut(BaseModel):
    track_id: str
    decision: str
    status: Literal["recorded", "awaiting_second_approval"] = Field(
        description="'awaiting_second_approval': a clear of a track the detector scored at or"
        " above the exclusion threshold, recorded as a request; it stays excluded until"
        " another curator clears it too."
    )
    withheld_now: bool
    store_sync: StoreSync = Field(description=STORE_SYNC_DESCRIPTION)


class AnonymousRefusalsOut(BaseModel):
    """Calls refused for want of a valid token, counted per minute (not one entry each)."""

    minute: str = Field(description="The start of the minute, ISO 8601.")
    action: str = Field(description="The endpoint's name, as an entry's 'action'.")
    status: int
    reason: Literal["no token", "unknown token"]
    count: int


class AuditOut(BaseModel):
    entries: list[dict[str, Any]] = Field(
        description="One record per change and per call refused or failed for a known token."
    )
    anonymous_refusals: list[AnonymousRefusalsOut] = Field(
        description="Calls without a valid token (401), counted per minute and endpoint: they"
        " cost no credential, so one record each would let anyone grow the trail."
    )


class ExclusionOut(BaseModel):
    user_id: str
    kind: str
    id: str
    active: bool
    changed: bool


class ErasureOut(BaseModel):
    """An erasure whose store copy could not be removed answers 503 instead (its state part
    is committed): unlike a flag, nothing catches up by itself, so the caller must repeat it
    (or the next rebuild finishes it)."""

    erased: bool
    removed: dict[str, int]
    store_sync: StoreSync = Field(
        description="'pending': the user is erased everywhere, store included; only the"
        " engine's sync of withheld tracks to the store is left, and it catches up by itself."
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (401, "Missing, unknown or revoked bearer token"),
        (403, "The token's role may not call this endpoint"),
        (404, "Unknown artist, track, link or exclusion"),
        (422, "A field failed validation; 'field' names it"),
        (503, "The store or the state did not answer, or a state file is damaged"),
    )
}
CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The review rules refuse this decision"}
}
ERASED_RESPONSE: dict[int | str, dict[str, Any]] = {
    410: {"model": ErrorOut, "description": "The user was erased; nothing is stored for them"}
}
