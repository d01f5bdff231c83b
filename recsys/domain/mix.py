"""What the engine hands to listeners: mixes of tracks, each track with the reason it is there.

Transparency is a value of the service (docs/contract.md section 1): a reason is not decoration,
the app shows it ("because you listen to X") and curators audit mixes with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

MixKind = Literal["mix", "release_radar", "artist_radio", "track_radio"]
ReasonType = Literal["history", "curated_link", "als_neighbour", "followed_artist", "seed"]
Slot = Literal["familiar", "discovery"]


@dataclass(frozen=True, slots=True)
class Reason:
    type: ReasonType
    via: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "via": dict(self.via)}


@dataclass(frozen=True, slots=True)
class MixTrack:
    track_id: str
    artist_ids: tuple[str, ...]
    title: str
    reason: Reason
    slot: Slot = "familiar"

    def as_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "artist_ids": list(self.artist_ids),
            "title": self.title,
            "reason": self.reason.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class Mix:
    mix_id: str
    kind: MixKind
    title: str
    generated_at: datetime
    pool_version: str
    model_version: str
    tracks: tuple[MixTrack, ...]

    def with_tracks(self, tracks: tuple[MixTrack, ...]) -> Mix:
        return replace(self, tracks=tracks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mix_id": self.mix_id,
            "kind": self.kind,
            "title": self.title,
            "generated_at": self.generated_at.isoformat(),
            "pool_version": self.pool_version,
            "model_version": self.model_version,
            "tracks": [t.as_dict() for t in self.tracks],
        }


def mix_from_dict(data: Mapping[str, Any]) -> Mix:
    """Inverse of ``Mix.as_dict`` (for stored mixes; the store wrote them, so no validation)."""
    return Mix(
        mix_id=data["mix_id"],
        kind=data["kind"],
        title=data["title"],
        generated_at=datetime.fromisoformat(data["generated_at"]),
        pool_version=data["pool_version"],
        model_version=data["model_version"],
        tracks=tuple(
            MixTrack(
                track_id=t["track_id"],
                artist_ids=tuple(t["artist_ids"]),
                title=t["title"],
                reason=Reason(t["reason"]["type"], t["reason"].get("via") or {}),
            )
            for t in data["tracks"]
        ),
    )
