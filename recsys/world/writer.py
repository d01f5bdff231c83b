"""Writes a world as a data directory in the docs/contract.md section 2 layout.

Small files (catalogue, trust registry, flags, links) are written row by row with ``json``
and f-strings; listens, the bulk of the bytes, go through the vectorised CSV encoder one user
chunk at a time, with follows and exclusions written from the same chunk.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO

import numpy as np

from recsys.world.arrays import IntArray, as_int
from recsys.world.bots import BotPlan
from recsys.world.codes import DECLARATION_NAMES, SOURCE_NAMES
from recsys.world.config import WorldConfig
from recsys.world.curation import CuratorLink
from recsys.world.encoding import (
    SECONDS_PER_DAY,
    NumberField,
    UtcClock,
    encode_csv_rows,
    gather_rows,
    matrix_to_strings,
)
from recsys.world.ids import WorldIds
from recsys.world.listeners import EXCLUSION_KIND_NAMES, ChunkOutput, generate_chunk
from recsys.world.listening import ListeningContext, ListenRows
from recsys.world.moderation import Moderation
from recsys.world.synthetic_catalog import Catalog
from recsys.world.word_lists import TRUST_STAFF

LISTENS_HEADER = b"user_id,track_id,played_at,ms_played,plays\n"
REGISTRY_DAYS = 1095  # trust decisions happened within the last three years


def clock_for(config: WorldConfig) -> UtcClock:
    """A clock covering every moment a world's files use: the trust registry's three years
    and the listening window, up to today."""
    days_back = max(REGISTRY_DAYS, config.listen_days) + 1
    return UtcClock.covering(config.today - timedelta(days=days_back), config.today)


def _timestamps(clock: UtcClock, seconds: IntArray) -> list[str]:
    return matrix_to_strings(clock.format(seconds)) if len(seconds) else []


def _jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False))
            out.write("\n")


def _csv(path: Path, header: str, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(header + "\n")
        out.writelines(line + "\n" for line in lines)


def write_catalog(out: Path, catalog: Catalog, moderation: Moderation, ids: WorldIds) -> None:
    """catalog/{artists,labels,tracks}.jsonl; artists and labels sorted by id, tracks by
    release. Some rows from untrusted spam
    feeds carry extra fields claiming trust, which the engine must ignore."""
    artists = []
    for a in np.argsort(catalog.artist_code).tolist():
        row: dict[str, object] = {
            "artist_id": ids.artist[a],
            "name": catalog.artist_name[a],
            "partner": ids.partner[catalog.artist_partner[a]],
        }
        if catalog.artist_farm[a] >= 0 and catalog.artist_code[a] % 3 == 0:
            row["verified"] = True
        artists.append(row)
    _jsonl(out / "catalog" / "artists.jsonl", artists)

    labels = []
    for label in np.argsort(catalog.label_code).tolist():
        row = {
            "label_id": ids.label[label],
            "name": catalog.label_name[label],
            "partner": ids.partner[catalog.label_partner[label]],
        }
        if catalog.label_farm[label] >= 0 and catalog.label_farm[label] % 2 == 0:
            row["trusted"] = True
        labels.append(row)
    _jsonl(out / "catalog" / "labels.jsonl", labels)

    # tracks.jsonl is the one big catalogue file: rows are assembled from pre-quoted JSON
    # fragments instead of a json.dumps call per row (5x faster, same output format).
    quote = json.encoder.encode_basestring
    release_date = [date.fromordinal(d).isoformat() for d in catalog.release_day.tolist()]
    release_title = [quote(title) for title in catalog.release_title]
    tag_json: dict[tuple[str, ...], str] = {}
    ptr = catalog.featured_ptr.tolist()
    featured = catalog.featured_artist.tolist()
    track_artist = catalog.track_artist.tolist()
    track_release = catalog.track_release.tolist()
    track_label = catalog.track_label.tolist()
    track_partner = catalog.track_partner.tolist()
    track_farm = catalog.track_farm.tolist()
    track_code = catalog.track_code.tolist()
    duration = catalog.track_duration_ms.tolist()
    declaration = moderation.declaration.tolist()
    with (out / "catalog" / "tracks.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        batch: list[str] = []
        # Sorted by release id, tracks in release order, like a feed delivering releases. (Not
        # by track id: that order visits the big string tables at random, 5x slower at 1M.)
        in_release_order = np.argsort(catalog.release_code[catalog.track_release], kind="stable")
        for t in in_release_order.tolist():
            release = track_release[t]
            primary = ids.artist[track_artist[t]]
            first_featured, end_featured = ptr[t], ptr[t + 1]
            if first_featured == end_featured:
                credited = primary
            else:
                others = [ids.artist[a] for a in featured[first_featured:end_featured]]
                credited = '", "'.join([primary, *others])
            tags = catalog.track_tags[t]
            tags_text = tag_json.get(tags)
            if tags_text is None:
                tags_text = json.dumps(list(tags), ensure_ascii=False)
                tag_json[tags] = tags_text
            claims = (
                ', "trusted": true, "verified": true'
                if track_farm[t] >= 0 and track_code[t] % 4 == 0
                else ""
            )
            batch.append(
                f'{{"track_id": "{ids.track[t]}", "title": {quote(catalog.track_title[t])}, '
                f'"artist_ids": ["{credited}"], "label_id": "{ids.label[track_label[t]]}", '
                f'"release_id": "{ids.release[release]}", '
                f'"release_title": {release_title[release]}, '
                f'"release_date": "{release_date[release]}", "duration_ms": {duration[t]}, '
                f'"isrc": "{catalog.track_isrc[t]}", "tags": {tags_text}, '
                f'"ai_declaration": "{DECLARATION_NAMES[declaration[t]]}", '
                f'"partner": "{ids.partner[track_partner[t]]}"{claims}}}\n'
            )
            if len(batch) >= 10_000:
                handle.write("".join(batch))
                batch.clear()
        handle.write("".join(batch))


def write_trust(
    out: Path, catalog: Catalog, ids: WorldIds, clock: UtcClock, rng: np.random.Generator
) -> None:
    """trust/{partners,labels,artists}.csv: the platform's registry lists only what staff
    trusted or verified, with who and when."""
    today = clock.last_day

    def registry(path: Path, header: str, entity_ids: tuple[str, ...], chosen: IntArray) -> None:
        staff = rng.integers(0, len(TRUST_STAFF), len(chosen)).tolist()
        moments = (today - rng.integers(1, REGISTRY_DAYS + 1, len(chosen))) * SECONDS_PER_DAY
        moments = moments + rng.integers(0, SECONDS_PER_DAY, len(chosen))
        stamps = _timestamps(clock, as_int(moments))
        lines = sorted(
            f"{entity_ids[e]},{TRUST_STAFF[s]},{stamp}"
            for e, s, stamp in zip(chosen.tolist(), staff, stamps, strict=True)
        )
        _csv(path, header, lines)

    registry(
        out / "trust" / "partners.csv",
        "partner_id,trusted_by,trusted_at",
        ids.partner,
        as_int(np.flatnonzero(catalog.partner_trusted)),
    )
    registry(
        out / "trust" / "labels.csv",
        "label_id,trusted_by,trusted_at",
        ids.label,
        as_int(np.flatnonzero(catalog.label_trusted)),
    )
    registry(
        out / "trust" / "artists.csv",
        "artist_id,verified_by,verified_at",
        ids.artist,
        as_int(np.flatnonzero(catalog.artist_verified)),
    )


def write_moderation(out: Path, moderation: Moderation, ids: WorldIds, clock: UtcClock) -> None:
    """flags/ai_flags.jsonl in time order, and takedowns.csv."""
    order = np.lexsort((moderation.flag_track, moderation.flag_at))
    stamps = _timestamps(clock, as_int(moderation.flag_at[order]))
    rows: list[dict[str, object]] = [
        {
            "track_id": ids.track[t],
            "source": SOURCE_NAMES[s],
            "score": score,
            "created_at": stamp,
        }
        for t, s, score, stamp in zip(
            moderation.flag_track[order].tolist(),
            moderation.flag_source[order].tolist(),
            moderation.flag_score[order].tolist(),
            stamps,
            strict=True,
        )
    ]
    _jsonl(out / "flags" / "ai_flags.jsonl", rows)
    order = np.lexsort((moderation.takedown_track, moderation.takedown_at))
    stamps = _timestamps(clock, as_int(moderation.takedown_at[order]))
    lines = [
        f"{ids.track[t]},{moderation.takedown_reason[i]},{stamp}"
        for i, t, stamp in zip(
            order.tolist(), moderation.takedown_track[order].tolist(), stamps, strict=True
        )
    ]
    _csv(out / "takedowns.csv", "track_id,reason,created_at", lines)


def write_links(out: Path, links: tuple[CuratorLink, ...], ids: WorldIds, clock: UtcClock) -> None:
    """curation/links.jsonl."""
    stamps = _timestamps(clock, as_int([link.created_at for link in links]))
    rows: list[dict[str, object]] = [
        {
            "artist_a": ids.artist[link.artist_a],
            "artist_b": ids.artist[link.artist_b],
            "kind": link.kind,
            "weight": link.weight,
            "curator": link.curator,
            "note": link.note,
            "created_at": stamp,
        }
        for link, stamp in zip(links, stamps, strict=True)
    ]
    _jsonl(out / "curation" / "links.jsonl", rows)


def write_optouts(out: Path, optouts: IntArray, ids: WorldIds) -> None:
    """optouts.csv, sorted."""
    _csv(out / "optouts.csv", "user_id", ids.users(optouts))


@dataclass(frozen=True, slots=True)
class ListenStats:
    """Counts from writing listens, follows and exclusions."""

    rows: int
    plays: int
    files: int
    follows: int
    exclusions: int


def _follow_bytes(ids: WorldIds, user: IntArray, artist_code: IntArray) -> bytes:
    if len(user) == 0:
        return b""
    return encode_csv_rows(
        (ids.user_scheme.matrix(user + 1), ids.artist_scheme.matrix(artist_code))
    )


def write_listens(
    out: Path,
    *,
    config: WorldConfig,
    catalog: Catalog,
    ctx: ListeningContext,
    plan: BotPlan,
    ids: WorldIds,
    clock: UtcClock,
    rng: np.random.Generator,
) -> ListenStats:
    """listens/part-NNNN.csv (at least two files, one block of users each), follows.csv and
    exclusions.csv, generated chunk by chunk."""
    users = config.users
    files = max(2, math.ceil(users / config.users_per_listen_file))
    per_file = math.ceil(users / files)
    listens_dir = out / "listens"
    listens_dir.mkdir(parents=True, exist_ok=True)
    rows = plays = follows_written = exclusions_written = 0
    with (
        (out / "follows.csv").open("wb") as follows,
        (out / "exclusions.csv").open("w", encoding="utf-8", newline="\n") as exclusions,
    ):
        follows.write(b"user_id,artist_id\n")
        exclusions.write("user_id,kind,id\n")
        for part in range(files):
            first, last = part * per_file, min(users, (part + 1) * per_file)
            with (listens_dir / f"part-{part:04d}.csv").open("wb") as listens:
                listens.write(LISTENS_HEADER)
                for start in range(first, last, config.chunk_users):
                    chunk = generate_chunk(
                        start,
                        min(last, start + config.chunk_users),
                        config=config,
                        ctx=ctx,
                        plan=plan,
                        artists=catalog.artists,
                        rng=rng,
                    )
                    listens.write(_listen_bytes(chunk.rows, catalog, ids, clock))
                    rows += len(chunk.rows)
                    plays += int(chunk.rows.plays.sum())
                    follow_code = catalog.artist_code[chunk.follow_artist]
                    order = np.lexsort((follow_code, chunk.follow_user))
                    follows.write(_follow_bytes(ids, chunk.follow_user[order], follow_code[order]))
                    follows_written += len(order)
                    exclusions_written += _write_exclusions(exclusions, chunk, ids)
    return ListenStats(
        rows=rows,
        plays=plays,
        files=files,
        follows=follows_written,
        exclusions=exclusions_written,
    )


def _listen_bytes(rows: ListenRows, catalog: Catalog, ids: WorldIds, clock: UtcClock) -> bytes:
    if len(rows) == 0:
        return b""
    first_user = int(rows.user.min())
    user_table = ids.user_scheme.matrix(as_int(np.arange(first_user, int(rows.user.max()) + 1) + 1))
    return encode_csv_rows(
        (
            gather_rows(user_table, as_int(rows.user - first_user)),
            gather_rows(ids.track_table, rows.track),
            clock.format(rows.at),
            NumberField(rows.ms),
            NumberField(rows.plays),
        )
    )


def _write_exclusions(handle: IO[str], chunk: ChunkOutput, ids: WorldIds) -> int:
    if len(chunk.exclusion_user) == 0:
        return 0
    user_ids = ids.users(chunk.exclusion_user)
    lines = []
    for user_id, kind, target in zip(
        user_ids, chunk.exclusion_kind.tolist(), chunk.exclusion_target.tolist(), strict=True
    ):
        entity = ids.artist[target] if kind == 0 else ids.track[target]
        lines.append(f"{user_id},{EXCLUSION_KIND_NAMES[kind]},{entity}\n")
    handle.writelines(lines)
    return len(lines)
