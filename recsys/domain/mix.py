"""What the engine hands to listeners: mixes of tracks, each track with the reason it is there.

Transparency is a value of the service (docs/contract.md section 1): a reason is not decoration,
the app shows it ("because you listen to X") and curators audit mixes with it. For the same
reason a mix says whether it was built from the listener's own history (``personalised``) and,
in a few words, on what basis (``basis``): a cold-start or fallback answer must not pass for a
personal one. Each track names its artists beside their ids, for the people who read answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, get_args

MixKind = Literal["mix", "release_radar", "artist_radio", "track_radio"]
ReasonType = Literal["history", "curated_link", "als_neighbour", "followed_artist", "seed"]
Slot = Literal["familiar", "discovery"]

# A mix's ``basis``: built from the listener's own history, or why not. A closed list: the
# rebuild's compiled payload assembly renders one mix head per basis (``payload.encoder``).
Basis = Literal[
    "your listening history",
    "unknown listener",
    "opted out",
    "no listening history yet",
    "no model yet",
    "store unavailable",
    "no listener given",
]
BASES: tuple[Basis, ...] = get_args(Basis)
PERSONAL_BASIS: Basis = "your listening history"
UNKNOWN_LISTENER: Basis = "unknown listener"
OPTED_OUT: Basis = "opted out"
NO_HISTORY: Basis = "no listening history yet"
NO_MODEL: Basis = "no model yet"
STORE_UNAVAILABLE: Basis = "store unavailable"
NO_LISTENER: Basis = "no listener given"


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
    # The artists' names, in the order of ``artist_ids`` (filled by ``make_mix`` and by the
    # read path from the pool; empty until then).
    artist_names: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "artist_ids": list(self.artist_ids),
            "artist_names": list(self.artist_names),
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
    # Set by whoever answers for a listener (``stamped``), not by the generators, which see
    # only whether to personalise, not why not.
    personalised: bool = False
    basis: Basis = UNKNOWN_LISTENER

    def with_tracks(self, tracks: tuple[MixTrack, ...]) -> Mix:
        return replace(self, tracks=tracks)

    def stamped(self, basis: Basis) -> Mix:
        """This mix as answered for a listener on ``basis`` (one of ``BASES``): personalised
        exactly when the basis is the listener's own history."""
        return replace(self, personalised=basis == PERSONAL_BASIS, basis=basis)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mix_id": self.mix_id,
            "kind": self.kind,
            "title": self.title,
            "generated_at": self.generated_at.isoformat(),
            "pool_version": self.pool_version,
            "model_version": self.model_version,
            "personalised": self.personalised,
            "basis": self.basis,
            "tracks": [t.as_dict() for t in self.tracks],
        }


def mix_from_dict(data: Mapping[str, Any]) -> Mix:
    """Inverse of ``Mix.as_dict`` (for stored mixes; the store wrote them, so no validation).
    Mixes stored before ``personalised``, ``basis`` and ``artist_names`` existed read with
    the defaults; the read path stamps and names them again."""
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
                artist_names=tuple(t.get("artist_names", ())),
            )
            for t in data["tracks"]
        ),
        personalised=bool(data.get("personalised", False)),
        basis=data.get("basis", UNKNOWN_LISTENER),
    )


def describe_reason(reason: Mapping[str, Any], name: Callable[[str], str]) -> str:
    """A reason (``Reason.as_dict``) in words for a listener, artists by ``name``. Words only:
    the model's scores and a curator's weight stay in ``via`` for the app, never in the text
    (a listener reads "listeners of X also play this", not "X (0.7057)")."""
    via = reason.get("via") or {}
    artist = name(via["artist_id"]) if via.get("artist_id") else ""
    kind = reason.get("type")
    if kind == "history":
        return f"because you listen to {artist}"
    if kind == "followed_artist":
        return f"because you follow {artist}"
    if kind == "curated_link":
        return f"our curators pair it with {artist}" if artist else "picked by our curators"
    if kind == "als_neighbour":
        return f"listeners of {artist} also play this"
    if via.get("basis") == "popular in the pool" and artist:
        return f"{artist} is popular here"
    if artist:
        return f"picked around {artist}"
    return "this radio starts from this track" if via.get("track_id") else "picked for this mix"
