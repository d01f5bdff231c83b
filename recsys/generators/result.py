"""What a generator returns: its mixes, and notes for expected shortfalls (not exceptions)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from recsys.generators.context import GenerationContext
from recsys.mix import Mix, MixKind, MixTrack


@dataclass(frozen=True, slots=True)
class GenerationResult:
    mixes: tuple[Mix, ...]
    notes: tuple[str, ...] = ()


def make_mix(
    ctx: GenerationContext, kind: MixKind, key: str, title: str, tracks: list[MixTrack]
) -> Mix:
    """A mix with a stable id: the same user, kind, slot, pool and model give the same id."""
    digest = hashlib.sha256(
        "\0".join((kind, key, ctx.catalog.pool_version, ctx.model_version)).encode()
    ).hexdigest()
    return Mix(
        mix_id=f"{kind}-{digest[:16]}",
        kind=kind,
        title=title,
        generated_at=ctx.now,
        pool_version=ctx.catalog.pool_version,
        model_version=ctx.model_version,
        tracks=tuple(tracks),
    )
