"""The gate state machine's own record of what must hold (``test_gate_state_machine.py``).

Built from the raw data directory (catalog, the staff's trust files, the feeds' flags and
takedowns, the curators' links) and updated by the machine's own actions, never read back
from the engine: trust as staff changed it (a revocation counts at once, a grant only from
the next pool build), every track's AI verdict (with the rights holder's flag and the
four-eyes rule for high detector scores), takedowns, blocked pairs and erased users.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from pool.ai_status import AiRules

Subject = tuple[str, str]  # ("partner" | "label" | "artist", id)
Pair = tuple[str, str]
ReviewOutcome = Literal["recorded", "awaiting_second_approval", "refused"]


def pair(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True, slots=True)
class CatalogTrack:
    track_id: str
    partner: str
    label: str
    artists: tuple[str, ...]
    generated: bool

    def subjects(self) -> Iterator[Subject]:
        yield ("partner", self.partner)
        yield ("label", self.label)
        for artist in self.artists:
            yield ("artist", artist)


@dataclass(slots=True)
class AiRecord:
    """One track's AI state as the rules of SPEC section 1 and ``record_review`` say."""

    label_flagged: bool = False  # the rights holder's flag: no clear overrides it
    high: bool = False  # a detector score at or above the exclusion threshold, ever
    withheld: bool = False
    clear_requested_by: str | None = None  # first curator of a four-eyes clear

    def flag(self, source: str, score: float, rules: AiRules) -> None:
        if source == "label":
            self.label_flagged = self.withheld = True
        elif source == "curator":
            self.withheld = True
        elif source == "detector" and score >= rules.review_threshold:
            self.withheld = True
            self.high = self.high or score >= rules.exclude_threshold
        # A listener report only queues the track; it withholds nothing.

    def review(self, decision: str, curator: str) -> ReviewOutcome:
        if decision == "exclude":
            self.withheld = True
            self.clear_requested_by = None
            return "recorded"
        if self.label_flagged:
            return "refused"
        if self.high:
            if self.clear_requested_by is None:
                self.clear_requested_by = curator
                return "awaiting_second_approval"
            if self.clear_requested_by == curator:
                return "refused"
        self.withheld = False
        self.clear_requested_by = None
        return "recorded"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class GateRecord:
    """What the machine knows must hold, and the answers it expects."""

    rules: AiRules
    catalog: dict[str, CatalogTrack]
    registry: dict[Subject, bool]  # the staff's registry now
    admitted: frozenset[Subject]  # subjects trusted when the current pool was built
    ai: dict[str, AiRecord]
    taken_down: frozenset[str]
    blocked: set[Pair]  # curator blocks now (radios, similar, on-the-spot generation)
    similar_links: set[Pair] = field(default_factory=set)  # curated links the machine made
    erased: set[str] = field(default_factory=set)

    @classmethod
    def from_data_dir(cls, data: Path, rules: AiRules, feed_before: datetime) -> GateRecord:
        catalog = {}
        for row in _jsonl(data / "catalog" / "tracks.jsonl"):
            track = CatalogTrack(
                str(row["track_id"]),
                str(row["partner"]),
                str(row["label_id"]),
                tuple(str(a) for a in row["artist_ids"]),  # type: ignore[attr-defined]
                row.get("ai_declaration") == "generated",
            )
            catalog[track.track_id] = track
        registry: dict[Subject, bool] = {}
        for kind, file, column in (
            ("partner", "partners.csv", "partner_id"),
            ("label", "labels.csv", "label_id"),
            ("artist", "artists.csv", "artist_id"),
        ):
            for row in _csv_rows(data / "trust" / file):
                registry[(kind, row[column])] = True
        ai: dict[str, AiRecord] = {}
        for row in _jsonl(data / "flags" / "ai_flags.jsonl"):
            created = datetime.fromisoformat(str(row["created_at"]).replace("Z", "+00:00"))
            # The machine's own reviews come later than every feed flag, so they see them all.
            assert created < feed_before, f"feed flag dated after the machine's clock: {row}"
            ai.setdefault(str(row["track_id"]), AiRecord()).flag(
                str(row["source"]),
                float(row["score"]),  # type: ignore[arg-type]
                rules,
            )
        taken_down = frozenset(r["track_id"] for r in _csv_rows(data / "takedowns.csv"))
        blocked = {
            pair(str(r["artist_a"]), str(r["artist_b"]))
            for r in _jsonl(data / "curation" / "links.jsonl")
            if r["kind"] == "block"
        }
        record = cls(
            rules=rules,
            catalog=catalog,
            registry=registry,
            admitted=frozenset(),
            ai=ai,
            taken_down=taken_down,
            blocked=blocked,
        )
        record.pool_built()
        return record

    # -- actions -------------------------------------------------------------------------

    def trusted_now(self) -> frozenset[Subject]:
        return frozenset(s for s, trusted in self.registry.items() if trusted)

    def pool_built(self, registry: Iterable[Subject] | None = None) -> None:
        """A pool build read the registry (``registry``: as it was then; default now)."""
        self.admitted = frozenset(self.trusted_now() if registry is None else registry)

    def set_trust(self, subject: Subject, trusted: bool) -> None:
        self.registry[subject] = trusted

    def flag(self, track_id: str, source: str, score: float) -> None:
        self.ai.setdefault(track_id, AiRecord()).flag(source, score, self.rules)

    def review(self, track_id: str, decision: str, curator: str) -> ReviewOutcome:
        return self.ai.setdefault(track_id, AiRecord()).review(decision, curator)

    def link(self, a: str, b: str, block: bool) -> None:
        p = pair(a, b)
        if block:
            self.blocked.add(p)
            self.similar_links.discard(p)
        else:
            self.blocked.discard(p)
            self.similar_links.add(p)

    # -- questions -----------------------------------------------------------------------

    def subject_allowed(self, subject: Subject) -> bool:
        """In the pool's registry when it was built, and not revoked since."""
        return subject in self.admitted and self.registry.get(subject, False)

    def ai_withheld(self, track_id: str) -> bool:
        record = self.ai.get(track_id)
        return record is not None and record.withheld

    def why_not_servable(self, track_id: str) -> str | None:
        """None when the record allows ``track_id`` to reach a listener now."""
        track = self.catalog.get(track_id)
        if track is None:
            return "not in the catalog"
        if track.generated:
            return "declared generated"
        if track_id in self.taken_down:
            return "taken down"
        if self.ai_withheld(track_id):
            return "flagged (withheld by its AI verdict)"
        for subject in track.subjects():
            if not self.subject_allowed(subject):
                state = "revoked" if subject in self.admitted else "not admitted"
                return f"untrusted subject {subject} ({state})"
        return None

    def withheld_pool_tracks(self, pool: Mapping[str, object]) -> set[str]:
        """The current pool's tracks the record withholds now (flags, takedowns, revoked
        trust): what the store's withheld set must hold for stored reads to drop them."""
        return {t for t in pool if self.why_not_servable(t) is not None}

    def eligible(self) -> set[str]:
        return {t for t in self.catalog if self.why_not_servable(t) is None}
