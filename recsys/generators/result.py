"""What a generator returns: its mixes, and notes for expected shortfalls (not exceptions)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from recsys.domain.mix import Mix, MixKind, MixTrack
from recsys.generators.context import GenerationContext


@dataclass(frozen=True, slots=True)
class GenerationResult:
    mixes: tuple[Mix, ...]
    notes: tuple[str, ...] = ()


MIX_DIGEST_LENGTH = 16


def mix_id(ctx: GenerationContext, kind: MixKind, key: str) -> str:
    """A stable id: the same user, kind, slot, pool and model give the same id."""
    return format_mix_id(kind, mix_digest(kind, key, ctx.catalog.pool_version, ctx.model_version))


def mix_digest(kind: str, key: str, pool_version: str, model_version: str) -> str:
    """The 16 hex digits of a mix id (``MIX_DIGEST_LENGTH``) after its kind."""
    return hashlib.sha256("\0".join((kind, key, pool_version, model_version)).encode()).hexdigest()[
        :MIX_DIGEST_LENGTH
    ]


def format_mix_id(kind: str, digest: str) -> str:
    return f"{kind}-{digest}"


def make_mix(
    ctx: GenerationContext, kind: MixKind, key: str, title: str, tracks: list[MixTrack]
) -> Mix:
    """A generator's mix, each track with its artists' names from the pool (the one place
    every generator's tracks pass, so none can leave them out). Not yet stamped for a
    listener (``Mix.stamped``): the generators know whether to personalise, not why not."""
    name = ctx.catalog.name
    return Mix(
        mix_id=mix_id(ctx, kind, key),
        kind=kind,
        title=title,
        generated_at=ctx.now,
        pool_version=ctx.catalog.pool_version,
        model_version=ctx.model_version,
        tracks=tuple(replace(t, artist_names=tuple(name(a) for a in t.artist_ids)) for t in tracks),
    )
