"""Artists: search, an artist's neighbourhood, and link edits previewed before they are saved.

A link edit is a two-step form: "Preview" shows the artist's radio before and after and how
many listeners' stored mixes play both artists; "Save" makes the change through the same
state function as the API and the CLI (change and audit record in one transaction), then the
live engine reloads, so the next radio reflects it. Each form carries the pair's row as the
curator saw it (``base``): when another curator changed the pair meanwhile, the save is
refused with what they did, instead of silently overwriting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pool.fields import FieldError
from pool.state import trust_row
from recsys.api.trail import synced_after_commit
from recsys.console.link_preview import ChangeKind, LinkChange, preview
from recsys.console.pair_reach import PairReach, PairReachCounter
from recsys.console.web import (
    CURATOR,
    STAFF,
    ConsoleRefusalError,
    Posted,
    SignedIn,
    Staff,
    field,
    redirect,
    render,
    require,
    segment,
)
from recsys.curation.links import make_link, unlinkable_artists
from recsys.curation.pool_names import pool_label_names
from recsys.curation.store import (
    LinkChangedError,
    link_row,
    load_links,
    put_link,
    remove_link,
    row_mark,
)
from recsys.engine.loading import Engine
from recsys.graph.similar_artists import similar_artists

router = APIRouter(include_in_schema=False)
SEARCH_LIMIT = 30
NEIGHBOURS_SHOWN = 60
CHANGE_KINDS: dict[str, ChangeKind] = {"similar": "similar", "block": "block", "remove": "remove"}
REACH = PairReachCounter()


@dataclass(frozen=True, slots=True)
class ArtistIndex:
    """Lower-cased names of the pool's artists, made once per engine, for search."""

    rows: tuple[tuple[str, str, str], ...]  # (id, name, lower-cased "id name")

    @classmethod
    def of(cls, engine: Engine) -> ArtistIndex:
        names = engine.context.catalog.artist_names

        def build() -> ArtistIndex:
            rows = sorted(
                (artist, names.get(artist, ""), f"{artist} {names.get(artist, '')}".casefold())
                for artist in engine.context.graph
            )
            return cls(tuple(rows))

        return engine.context.shared(("console", "artist_index"), build)

    def search(self, query: str, limit: int) -> list[tuple[str, str]]:
        """Artists whose id or name holds ``query``; an exact id first, then by name."""
        needle = query.strip().casefold()
        if not needle:
            return []
        found = [(artist, name) for artist, name, text in self.rows if needle in text]
        found.sort(key=lambda row: (row[0].casefold() != needle, row[1].casefold(), row[0]))
        return found[:limit]


def _search(staff: Staff, q: str) -> list[tuple[str, str]]:
    return ArtistIndex.of(staff.services.live.current()).search(q, SEARCH_LIMIT)


@router.get("/console/artists", name="console.artists")
async def artists_page(staff: SignedIn, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    require(staff, STAFF, "Looking up artists")
    return render("artists.html", staff=staff, q=q, results=_search(staff, q) if q else None)


@router.get("/console/artists/search", name="console.artists_search")
async def artists_search(
    staff: SignedIn, q: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    """The result list alone, for the search box's as-you-type updates."""
    require(staff, STAFF, "Looking up artists")
    return render("artist_results.html", staff=staff, q=q, results=_search(staff, q))


def _artist_view(staff: Staff, artist_id: str) -> dict[str, Any]:
    found = staff.services
    engine = found.live.current()
    ctx = engine.context
    names = ctx.catalog.artist_names
    conn = found.conn()
    registry = trust_row(conn, "artist", artist_id)
    in_pool = artist_id in ctx.graph
    if not in_pool and registry is None and artist_id not in names:
        raise ConsoleRefusalError(
            404, "Unknown artist", f"{artist_id} is not an artist of the pool or the registry"
        )
    labels = pool_label_names(found.settings.state_dir, ctx.catalog.pool_version)
    label_ids = sorted(
        {ctx.catalog.tracks[t].label_id for t in ctx.catalog.artist_tracks.get(artist_id, ())}
    )
    links = load_links(conn, artist_id)
    rows = {link.artist_b if link.artist_a == artist_id else link.artist_a: link for link in links}
    neighbours = []
    for neighbour in similar_artists(ctx.graph, artist_id, NEIGHBOURS_SHOWN):
        other = neighbour.artist_id
        neighbours.append(
            {
                "artist_id": other,
                "name": names.get(other),
                "score": neighbour.score,
                "source": neighbour.source,
                "link": neighbour.link,
            }
        )
    shown = {n["artist_id"] for n in neighbours}
    others = [
        {
            "artist_id": other,
            "name": names.get(other),
            "link": link,
            "in_pool": other in ctx.graph,
        }
        for other, link in sorted(rows.items())
        if other not in shown
    ]
    return {
        "artist_id": artist_id,
        "name": names.get(artist_id),
        "in_pool": in_pool,
        "revoked_now": artist_id in engine.gate.exclusions.unverified_artists,
        "registry": registry,
        "labels": [(label, labels.get(label)) for label in label_ids],
        "tracks": len(ctx.catalog.artist_tracks.get(artist_id, ())),
        "neighbours": neighbours,
        "other_links": others,
    }


@router.get("/console/artists/{artist_id}", name="console.artist")
async def artist_page(
    staff: SignedIn, artist_id: str, saved: Annotated[str | None, Query()] = None
) -> Response:
    require(staff, STAFF, "Looking up artists")
    view = await run_in_threadpool(_artist_view, staff, artist_id)
    return render("artist.html", staff=staff, artist=view, saved=saved, error=None, form={})


def _change_from(staff: Staff, artist_id: str, form: dict[str, str]) -> LinkChange:
    """The change a form asks for, each field checked as the API checks it."""
    kind = CHANGE_KINDS.get(field(form, "kind"))
    if kind is None:
        raise FieldError("kind", "must be similar, block or remove")
    found = staff.services
    raw_weight = field(form, "weight")
    weight: Any = None
    if kind == "similar":
        try:
            weight = float(raw_weight)
        except ValueError:
            raise FieldError("weight", "must be a number between 0 and 1") from None
    note = field(form, "note")
    if not note:
        raise FieldError("note", "is required: say why, for the audit trail and the listeners")
    link = make_link(
        artist_a=artist_id,
        artist_b=field(form, "other"),
        kind="block" if kind == "remove" else kind,
        weight=weight,
        curator=staff.name,
        note=note,
        created_at=found.now(),
    )
    other = link.artist_b if link.artist_a == artist_id else link.artist_a
    return LinkChange(artist_id, other, kind, link.weight, staff.name, link.note, link.created_at)


def _checked(staff: Staff, change: LinkChange) -> None:
    """Refuse what the API refuses: a link to an artist the pool does not vouch for, and
    the removal of a link that does not exist."""
    engine = staff.services.live.current()
    if change.kind != "remove":
        refused = unlinkable_artists(change.as_link(), engine.context.graph)
        if refused:
            raise FieldError("other", f"not a verified artist of the current pool: {refused[0]}")
        return
    row = link_row(staff.services.conn(), change.artist, change.other)
    if row is None or row["kind"] == "removed":
        raise FieldError("other", f"there is no link between {change.artist} and {change.other}")


def _preview(staff: Staff, change: LinkChange) -> tuple[Any, PairReach | None]:
    found = staff.services
    engine = found.live.current()
    diff = preview(engine, change, found.settings.graph)
    reach = REACH.count(found.store, engine.history.users.ids, change.pair)
    return diff, reach


def _refused(staff: Staff, artist_id: str, error: FieldError, form: dict[str, str]) -> Response:
    view = _artist_view(staff, artist_id)
    message = f"{error.field}: {error}".replace(f"field '{error.field}': ", "")
    return render(
        "artist.html", 422, staff=staff, artist=view, saved=None, error=message, form=form
    )


@router.post("/console/artists/{artist_id}/links", name="console.link_edit")
async def edit_link(request: Request, staff: SignedIn, form: Posted, artist_id: str) -> Response:
    """Preview (``action`` other than "save") or save one edit of the artist's links."""
    require(staff, CURATOR, "Editing similar-artist links")
    base = field(form, "base") or "none"
    try:
        change = _change_from(staff, artist_id, form)
        await run_in_threadpool(_checked, staff, change)
    except FieldError as error:
        return await run_in_threadpool(_refused, staff, artist_id, error, form)
    conflict: dict[str, Any] | None = None
    if field(form, "action") == "save":
        try:
            await run_in_threadpool(_save, request, staff, change, base)
        except LinkChangedError as changed:
            conflict = changed.current or {"kind": "none"}
        else:
            saved = quote(f"{change.kind}:{change.other}")
            return redirect(f"/console/artists/{segment(artist_id)}?saved={saved}")
    diff, reach = await run_in_threadpool(_preview, staff, change)
    row = await run_in_threadpool(link_row, staff.services.conn(), artist_id, change.other)
    return render(
        "link_preview.html",
        409 if conflict is not None else 200,
        staff=staff,
        change=change,
        names=staff.services.live.current().context.catalog.artist_names,
        diff=diff,
        reach=reach,
        conflict=conflict,
        now_row=row,
        base=row_mark(row),
    )


def _save(request: Request, staff: Staff, change: LinkChange, base: str) -> None:
    """The change, only if the pair is still as the curator saw it (``LinkChangedError``)."""
    found = staff.services
    conn = found.conn()
    if change.kind == "remove":
        removed = remove_link(
            conn,
            change.artist,
            change.other,
            by=staff.name,
            why=change.note,
            role=staff.role,
            now=change.at,
            if_mark=base,
        )
        if removed is None:
            raise LinkChangedError(link_row(conn, change.artist, change.other))
    else:
        put_link(conn, change.as_link(), why=change.note, role=staff.role, if_mark=base)
    synced_after_commit(request, found.live.reload)
