"""History: the audit trail, filtered by person, action and subject; link edits reverted.

A revert is a new edit, audited like any other, that puts the pair back as the entry found
it. It is refused when the pair changed after the entry (another curator's later edit would
be undone without their knowing): revert the later change first.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pool.audit import AuditEntry, audit_entry, search_audit
from pool.fields import FieldError, check_text
from recsys.api.trail import synced_after_commit
from recsys.console.web import (
    ADMIN,
    ConsoleRefusalError,
    Posted,
    SignedIn,
    Staff,
    field,
    redirect,
    render,
    require,
)
from recsys.curation.links import CuratorLink
from recsys.curation.store import LinkChangedError, link_row, put_link, remove_link, row_mark

router = APIRouter(include_in_schema=False)
SHOWN = 200
LINK_EDITS = {"links.similar": "similar", "links.block": "block", "links.remove": "removed"}
Filter = Annotated[str, Query(max_length=200)]


def revertible(entry: AuditEntry) -> bool:
    return entry.action in LINK_EDITS and entry.result == "ok" and "|" in entry.subject


@router.get("/console/history", name="console.history")
async def history_page(
    staff: SignedIn,
    person: Filter = "",
    action: Filter = "",
    subject: Filter = "",
    done: Filter = "",
) -> Response:
    require(staff, ADMIN, "The audit trail")
    rows = await run_in_threadpool(
        search_audit,
        staff.services.conn(),
        actor=person.strip() or None,
        action=action.strip() or None,
        subject=subject.strip() or None,
        limit=SHOWN,
    )
    return render(
        "history.html",
        staff=staff,
        rows=[(entry_id, entry, revertible(entry)) for entry_id, entry in rows],
        person=person,
        action=action,
        subject=subject,
        done=done,
        shown=SHOWN,
    )


def _revert(request: Request, staff: Staff, entry_id: int, why: str) -> None:
    found = staff.services
    conn = found.conn()
    entry = audit_entry(conn, entry_id)
    if entry is None or not revertible(entry):
        raise ConsoleRefusalError(404, "Nothing to revert", f"entry {entry_id} is not a link edit")
    a, b = entry.subject.split("|", 1)
    # The pair must still be as this entry left it.
    left = f"{LINK_EDITS[entry.action]}|{entry.actor}|{entry.at.isoformat()}"
    if row_mark(link_row(conn, a, b)) != left:
        raise _changed_since(entry_id, link_row(conn, a, b))
    before: dict[str, Any] | None = entry.before
    note = f"revert of history entry {entry_id}: {why}"
    try:
        if before is None or before.get("kind") == "removed":
            if (
                remove_link(
                    conn,
                    a,
                    b,
                    by=staff.name,
                    why=note,
                    role=staff.role,
                    now=found.now(),
                    if_mark=left,
                )
                is None
            ):
                raise _changed_since(entry_id, link_row(conn, a, b))
        else:
            link = CuratorLink(
                a, b, before["kind"], float(before["weight"]), staff.name, note, found.now()
            )
            put_link(conn, link, why=note, role=staff.role, if_mark=left)
    except LinkChangedError as error:
        raise _changed_since(entry_id, error.current) from None
    synced_after_commit(request, found.live.reload)


def _changed_since(entry_id: int, row: dict[str, Any] | None) -> ConsoleRefusalError:
    now = (
        "no link"
        if row is None
        else f"{row['kind']} by {row['curator']} at {row['at']} (“{row['note']}”)"
    )
    return ConsoleRefusalError(
        409,
        "Changed since",
        f"the pair changed after entry {entry_id}; it is now {now}. Revert the later change"
        " first, or edit the pair from the artist's page",
    )


@router.post("/console/history/{entry_id}/revert", name="console.revert")
async def revert(request: Request, staff: SignedIn, form: Posted, entry_id: int) -> Response:
    require(staff, ADMIN, "Reverting a link edit")
    try:
        why = check_text(field(form, "note"), "note")
    except FieldError:
        raise ConsoleRefusalError(
            422, "Revert refused", "a revert needs a note saying why (for the audit trail)"
        ) from None
    await run_in_threadpool(_revert, request, staff, entry_id, why)
    return redirect(f"/console/history?done=reverted+{entry_id}")
