"""Curator links: values, the feed parser and the validation every edit goes through.

A link joins an unordered pair of artists. ``similar`` links carry a weight and always count
in the graph; ``block`` links remove the pair whatever the model says. A removed link is kept
as a tombstone so that re-importing the initial links file does not bring it back.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from pool.fields import (
    FieldError,
    check_choice,
    check_id,
    check_score,
    check_text,
    check_timestamp,
    require,
)

LinkKind = Literal["similar", "block"]
LINK_KINDS: frozenset[str] = frozenset({"similar", "block"})


@dataclass(frozen=True, slots=True)
class CuratorLink:
    artist_a: str
    artist_b: str
    kind: LinkKind
    weight: float
    curator: str
    note: str
    created_at: datetime

    @property
    def pair(self) -> tuple[str, str]:
        return canonical_pair(self.artist_a, self.artist_b)

    def as_dict(self) -> dict[str, Any]:
        return {
            "artist_a": self.artist_a,
            "artist_b": self.artist_b,
            "kind": self.kind,
            "weight": self.weight,
            "curator": self.curator,
            "note": self.note,
            "created_at": self.created_at.isoformat(),
        }


def canonical_pair(a: str, b: str) -> tuple[str, str]:
    """Links are undirected: one order for storage and lookups."""
    return (a, b) if a <= b else (b, a)


def make_link(
    *,
    artist_a: Any,
    artist_b: Any,
    kind: Any,
    weight: Any,
    curator: Any,
    note: Any,
    created_at: datetime,
) -> CuratorLink:
    """Validate one link's fields (shape only); raises ``FieldError`` naming the field."""
    a = check_id(artist_a, "artist_a")
    b = check_id(artist_b, "artist_b")
    if a == b:
        raise FieldError("artist_b", "an artist cannot be linked to itself")
    link_kind = cast(LinkKind, check_choice(kind, "kind", LINK_KINDS))
    # A block has no strength; a similar link must say how similar.
    link_weight = 0.0 if link_kind == "block" and weight is None else check_score(weight, "weight")
    a, b = canonical_pair(a, b)
    return CuratorLink(
        artist_a=a,
        artist_b=b,
        kind=link_kind,
        weight=link_weight,
        curator=check_text(curator, "curator"),
        note=check_text(note if note is not None else "", "note", allow_empty=True),
        created_at=created_at,
    )


def parse_link_row(row: dict[str, Any]) -> CuratorLink:
    """A row of ``curation/links.jsonl``."""
    return make_link(
        artist_a=require(row, "artist_a"),
        artist_b=require(row, "artist_b"),
        kind=require(row, "kind"),
        weight=row.get("weight"),
        curator=require(row, "curator"),
        note=row.get("note", ""),
        created_at=check_timestamp(require(row, "created_at"), "created_at"),
    )


def unlinkable_artists(link: CuratorLink, pool_artists: Container[str]) -> list[str]:
    """The link's artists that the pool does not vouch for (unknown or unverified)."""
    return [a for a in (link.artist_a, link.artist_b) if a not in pool_artists]
