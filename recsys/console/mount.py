"""Mounting the console on the API's app: its routes, static files and HTML error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from recsys.api.trail import audit_failure
from recsys.console import (
    routes_artists,
    routes_history,
    routes_review,
    routes_session,
    routes_trust,
)
from recsys.console.web import (
    ConsoleRefusalError,
    SignInRequiredError,
    install_console_key,
    render,
    sign_in_redirect,
)

STATIC = Path(__file__).parent / "static"


def _sign_in(request: Request, error: Exception) -> Response:
    if not isinstance(error, SignInRequiredError):
        raise error
    return sign_in_redirect(error.back_to)


async def _refused(request: Request, error: Exception) -> Response:
    if not isinstance(error, ConsoleRefusalError):
        raise error
    await run_in_threadpool(audit_failure, request, error.status, error.detail)
    return render("error.html", error.status, title=error.title, detail=error.detail)


async def _no_such_page(rest: str) -> Response:
    return render(
        "error.html", 404, title="No such page", detail=f"the console has no page /console/{rest}"
    )


def install_console(app: FastAPI) -> None:
    """Mount the console on ``app`` (whose ``state.services`` is already set)."""
    install_console_key(app.state, app.state.services)
    for module in (routes_session, routes_artists, routes_review, routes_trust, routes_history):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console.static")
    # Last: any other console path is a page that does not exist, said as a page.
    app.add_api_route(
        "/console/{rest:path}", _no_such_page, methods=["GET"], include_in_schema=False
    )
    app.add_exception_handler(SignInRequiredError, _sign_in)
    app.add_exception_handler(ConsoleRefusalError, _refused)
