"""Signing in and out, and the console's home page."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pool.audit import AuditEntry, append_audit
from pool.state import transaction
from recsys.api.trail import audit_failure
from recsys.console.web import (
    COOKIE_PATH,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Posted,
    SignedIn,
    redirect,
    render,
    services_of,
    session_id_of,
    signer,
)
from recsys.state.console_sessions import ConsoleSession, end_session, start_session

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: only a console page of this server (no open redirect)."""
    if target and target.startswith(COOKIE_PATH) and not target.startswith("//"):
        return target
    return COOKIE_PATH


def _sign_in_page(next_page: str, status: int = 200, error: str | None = None) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render("sign_in.html", status, next_page=next_page, csrf=nonce, error=error)
    response.set_cookie(
        SIGN_IN_COOKIE, nonce, max_age=900, path=COOKIE_PATH, httponly=True, samesite="strict"
    )
    return response


@router.get("/console/sign-in", name="console.sign_in_page")
async def sign_in_page(next: Annotated[str | None, Query()] = None) -> Response:
    return _sign_in_page(_safe_next(next))


def _start(request: Request, token: str) -> tuple[str, ConsoleSession] | None:
    found = services_of(request)
    conn, now = found.conn(), found.now()
    lifetime = timedelta(minutes=found.settings.serve.console_session_minutes)
    started = start_session(conn, token, now, lifetime)
    if started is not None:
        _, session = started
        with transaction(conn):
            append_audit(
                conn,
                AuditEntry(
                    now,
                    session.name,
                    session.role,
                    "console.sign_in",
                    f"token:{session.name}",
                    None,
                    {"expires_at": session.expires_at.isoformat()},
                    "signed in to the console",
                ),
            )
    return started


@router.post("/console/sign-in", name="console.sign_in")
async def sign_in(
    request: Request,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = COOKIE_PATH,
) -> Response:
    """A staff token in, a session cookie out. The sign-in form's own CSRF token is the
    double-submitted cookie: another site can post a form here but cannot set that cookie."""
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    next_page = _safe_next(next)
    if not expected or not hmac.compare_digest(csrf, expected):
        return _sign_in_page(next_page, 403, "the sign-in form expired; please try again")
    started = await run_in_threadpool(_start, request, token.strip())
    if started is None:
        detail = "that token is unknown or revoked"
        await run_in_threadpool(audit_failure, request, 401, detail)  # counted, as the API's
        return _sign_in_page(next_page, 401, detail)
    session_id, _ = started
    response = redirect(next_page)
    response.set_cookie(
        SESSION_COOKIE,
        signer(request).sign(session_id).decode(),
        max_age=int(services_of(request).settings.serve.console_session_minutes * 60),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/console/sign-out", name="console.sign_out")
async def sign_out(request: Request, staff: SignedIn, _: Posted) -> Response:
    session_id = session_id_of(request)
    found = services_of(request)
    if session_id is not None:
        await run_in_threadpool(end_session, found.conn(), session_id, found.now())
    response = redirect(f"{COOKIE_PATH}/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/console", name="console.home")
async def home(staff: SignedIn) -> Response:
    return render("home.html", staff=staff)
