"""The answers of the listener-facing read paths, as JSON-ready values.

One function per endpoint of docs/contract.md section 5, shared by the CLI (`recsys mixes`, ...)
and the HTTP API, so both print exactly the same JSON. Every mix passes the final filter inside
``run_generator`` before it is returned, and is stamped with the basis it was built on
(``serving.basis``): personalised or not, and why not.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from recsys.domain.exclusions import UserExclusions
from recsys.domain.mix import STORE_UNAVAILABLE, Mix, mix_from_dict
from recsys.engine.loading import Engine
from recsys.errors import NotFoundError
from recsys.generators.context import anonymous
from recsys.generators.registry import GenerationRequest, run_generator
from recsys.graph.similar_artists import similar_artists
from recsys.payload.codec import PAYLOAD_VERSION, StoredPart, read_payload
from recsys.serving.basis import basis_of
from recsys.serving.final_filter import StoredReadGate, filter_changes, final_filter
from recsys.store.base import MixStore, StoreUnavailableError

log = logging.getLogger(__name__)


def _only(mixes: tuple[Mix, ...]) -> Mix:
    return mixes[0]


def _generate(name: str, engine: Engine, request: GenerationRequest) -> tuple[Mix, ...]:
    """``run_generator``'s mixes, stamped with the basis of the request's listener."""
    result, _ = run_generator(name, engine, request)
    basis = basis_of(engine, request.user)
    return tuple(m.stamped(basis) for m in result.mixes)


def user_mixes(engine: Engine, user_id: str) -> dict[str, Any]:
    request = GenerationRequest(user=engine.profile(user_id))
    mixes = _generate("personal_mixes", engine, request)
    return {"user_id": user_id, "mixes": [m.as_dict() for m in mixes]}


def release_radar(engine: Engine, user_id: str) -> dict[str, Any]:
    request = GenerationRequest(user=engine.profile(user_id))
    return _only(_generate("release_radar", engine, request)).as_dict()


def _limited(mix: Mix, limit: int | None) -> dict[str, Any]:
    return (mix if limit is None else mix.with_tracks(mix.tracks[:limit])).as_dict()


def _verified_now(engine: Engine, artist_id: str) -> bool:
    """In the pool's graph, and not revoked since the pool was built."""
    return (
        artist_id in engine.context.graph
        and artist_id not in engine.gate.exclusions.unverified_artists
    )


def artist_radio(
    engine: Engine, artist_id: str, user_id: str | None, limit: int | None
) -> dict[str, Any]:
    if not _verified_now(engine, artist_id):
        raise NotFoundError(f"unknown artist: {artist_id} is not a verified artist of the pool")
    user = engine.profile(user_id) if user_id is not None else None
    request = GenerationRequest(user=user, seed_artist=artist_id)
    return _limited(_only(_generate("artist_radio", engine, request)), limit)


def track_radio(
    engine: Engine, track_id: str, user_id: str | None, limit: int | None
) -> dict[str, Any]:
    if not engine.gate.allows(track_id) or track_id not in engine.context.catalog.tracks:
        raise NotFoundError(f"unknown track: {track_id} is not a playable track of the pool")
    user = engine.profile(user_id) if user_id is not None else None
    request = GenerationRequest(user=user, seed_track=track_id)
    return _limited(_only(_generate("track_radio", engine, request)), limit)


def similar(engine: Engine, artist_id: str, limit: int) -> dict[str, Any]:
    graph = engine.context.graph
    if not _verified_now(engine, artist_id):
        raise NotFoundError(f"unknown artist: {artist_id} is not a verified artist of the pool")
    revoked = engine.gate.exclusions.unverified_artists
    found = similar_artists(graph, artist_id, limit + len(revoked) if revoked else limit)
    names = engine.context.catalog.artist_names
    return {
        "artist_id": artist_id,
        "artist_name": names.get(artist_id),
        "similar": [
            {
                "artist_id": s.artist_id,
                "name": names.get(s.artist_id),
                "score": round(s.score, 4),
                "source": s.source,
            }
            for s in found
            if s.artist_id not in revoked
        ][:limit],
    }


def _hydrate(engine: Engine, stored: dict[str, Any], user_id: str) -> Mix:
    """A stored mix with titles, artists and their names from the current pool (a track the
    pool no longer holds keeps no metadata and is removed by the final filter). A mix stored
    before mixes carried their basis is stamped with the listener's basis now."""
    mix = mix_from_dict(stored)
    if "basis" not in stored:
        mix = mix.stamped(basis_of(engine, engine.listener(user_id)))
    catalog = engine.context.catalog
    return mix.with_tracks(
        tuple(
            replace(
                t,
                artist_ids=artists,
                artist_names=tuple(catalog.name(a) for a in artists),
                title=track.title if track else "",
            )
            for t in mix.tracks
            for track in (catalog.tracks.get(t.track_id),)
            for artists in (track.artist_ids if track else (),)
        )
    )


StoredKind = Literal["mixes", "release_radar"]


_GENERATED_AT = b'"generated_at":"'


def generated_at(raw: bytes) -> datetime | None:
    """When a stored part's (first) mix was generated, read from its rendered JSON without
    parsing it (the key comes early in every mix); None when it holds no mix."""
    start = raw.find(_GENERATED_AT, 0, 512)
    if start < 0:
        return None
    start += len(_GENERATED_AT)
    end = raw.find(b'"', start)
    try:
        made = datetime.fromisoformat(raw[start:end].decode())
    except ValueError:
        return None
    return made if made.tzinfo is not None else made.replace(tzinfo=UTC)


def _blocked_since_made(engine: Engine, part: StoredPart) -> bool:
    """Whether a curator blocked, after the part was generated, a pair one of its artists is
    in: its reasons may then cross the block, and the final filter must look."""
    if not engine.block_times:
        return False
    made = generated_at(part.raw)
    if made is None:
        return False
    fresh = engine.blocks_after(made)
    return bool(fresh) and not part.artist_ids.isdisjoint(fresh)


def _servable_as_stored(
    engine: Engine, part: StoredPart, withheld_in_store: set[str], exclusions: UserExclusions
) -> bool:
    """True when the final filter would remove nothing: made from the current pool (so every
    track is in it, with these titles and artists), nothing withheld since, nothing the
    listener excluded, no block since that touches its artists. Then the stored part is the
    answer, byte for byte."""
    return (
        not withheld_in_store
        and part.pool_versions <= {engine.gate.pool_version}
        and not filter_changes(engine.gate, part.track_ids, part.artist_ids, exclusions)
        and not _blocked_since_made(engine, part)
    )


def _stored_json(
    engine: Engine, store: MixStore, user_id: str, exclusions: UserExclusions, kind: StoredKind
) -> bytes | None:
    """JSON of the user's stored mixes (a list) or Release Radar (one mix) after the final
    filter; None when the store holds none (or holds an erased user's, as a store restored
    from a snapshot taken before the erasure would)."""
    if engine.tombstones.erased(user_id):
        return None
    payload = store.read_user(user_id)
    if payload is None:
        return None
    stored = read_payload(payload)
    part = stored.mixes if kind == "mixes" else stored.release_radar
    if part is None:
        return None
    withheld_in_store = store.excluded_among(list(part.track_ids))
    if stored.version == PAYLOAD_VERSION and _servable_as_stored(
        engine, part, withheld_in_store, exclusions
    ):
        return part.raw
    gate = StoredReadGate(engine.gate, withheld_in_store)
    parsed = part.parsed()
    mixes = parsed if kind == "mixes" else [parsed]
    blocked = engine.context.blocked
    filtered = [
        final_filter(_hydrate(engine, m, user_id), gate, exclusions, blocked)[0].as_dict()
        for m in mixes
    ]
    return orjson.dumps(filtered if kind == "mixes" else filtered[0])


def read_user_mixes_json(
    engine: Engine, store: MixStore, user_id: str, exclusions: UserExclusions
) -> bytes:
    """``GET /v1/users/{id}/mixes`` as JSON: the stored mixes, filtered now. A user the store
    does not know gets mixes generated on the spot (non-personalised when the engine has
    never seen them); when the store does not answer, non-personalised mixes that pass the
    gate."""
    try:
        stored = _stored_json(engine, store, user_id, exclusions, "mixes")
    except StoreUnavailableError as error:
        log.warning("store unavailable, serving non-personalised mixes: %s", error)
        return orjson.dumps(_fallback(engine, user_id, exclusions, "personal_mixes"))
    if stored is None:
        return orjson.dumps(user_mixes(engine, user_id))
    return b'{"user_id":' + orjson.dumps(user_id) + b',"mixes":' + stored + b"}"


def read_release_radar_json(
    engine: Engine, store: MixStore, user_id: str, exclusions: UserExclusions
) -> bytes:
    """``GET /v1/users/{id}/release-radar`` as JSON, as ``read_user_mixes_json`` does it."""
    try:
        stored = _stored_json(engine, store, user_id, exclusions, "release_radar")
    except StoreUnavailableError as error:
        log.warning("store unavailable, serving a non-personalised release radar: %s", error)
        return orjson.dumps(_fallback(engine, user_id, exclusions, "release_radar"))
    if stored is None:
        return orjson.dumps(release_radar(engine, user_id))
    return stored


def read_user_mixes(
    engine: Engine, store: MixStore, user_id: str, exclusions: UserExclusions
) -> dict[str, Any]:
    """``read_user_mixes_json`` as a JSON value (for the CLI)."""
    return dict(orjson.loads(read_user_mixes_json(engine, store, user_id, exclusions)))


def read_release_radar(
    engine: Engine, store: MixStore, user_id: str, exclusions: UserExclusions
) -> dict[str, Any]:
    return dict(orjson.loads(read_release_radar_json(engine, store, user_id, exclusions)))


def _fallback(
    engine: Engine, user_id: str, exclusions: UserExclusions, name: str
) -> dict[str, Any]:
    request = GenerationRequest(user=anonymous(user_id, exclusions))
    result, _ = run_generator(name, engine, request)
    mixes = [m.stamped(STORE_UNAVAILABLE).as_dict() for m in result.mixes]
    if name == "personal_mixes":
        return {"user_id": user_id, "mixes": mixes}
    return mixes[0]
