"""What every console page needs: the signed-in staff member, CSRF checks, and rendering.

The console is server-rendered HTML from the API's own app, for curators and the trust team
who are not programmers. A browser signs in once with a staff token and then carries a
session cookie: signed (itsdangerous), HttpOnly (no script reads it), SameSite=Strict (no
other site's page sends it) and limited to ``/console`` with an expiry. The session itself is
kept in the state (``recsys.state.console_sessions``), so signing out or revoking the token
ends it everywhere. Every form that changes anything carries the session's CSRF token, and a
post without it is refused before anything is read or written. Refusals are audited as the
API's are (``recsys.api.trail.audit_failure``): a signed-in member's refused page or form is a
record under their name, a failed sign-in a count of anonymous refusals.

Roles follow the API's: curators edit links and decide reviews, the trust team flags tracks
and edits the trust registry, admins may do all of it and read the audit trail.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, Signer
from starlette.concurrency import run_in_threadpool

from recsys.api.auth import Principal
from recsys.api.services import Services
from recsys.state.console_sessions import ConsoleSession, console_key, csrf_token, find_session
from recsys.state.tokens import Role

SESSION_COOKIE = "recsys_console"
SIGN_IN_COOKIE = "recsys_console_sign_in"  # the CSRF token of the sign-in form
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf"
SIGNER_SALT = "recsys.console.session"
TEMPLATES = Path(__file__).parent / "templates"

# What each page needs; admins may open every page.
CURATOR: frozenset[Role] = frozenset({"curator", "admin"})
TRUST: frozenset[Role] = frozenset({"trust", "admin"})
ADMIN: frozenset[Role] = frozenset({"admin"})
STAFF: frozenset[Role] = frozenset({"curator", "trust", "admin"})


class SignInRequiredError(Exception):
    """No live session: the browser is sent to the sign-in page (and back afterwards)."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class ConsoleRefusalError(Exception):
    """A page or form refused (wrong role, bad CSRF token, unknown id): an HTML answer with
    the status and the reason, never a traceback."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Staff:
    """The signed-in staff member of one request, and what their forms must carry."""

    name: str
    role: Role
    csrf: str
    services: Services

    def may(self, roles: frozenset[Role]) -> bool:
        return self.role in roles


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Every value is escaped: names and notes come from feeds and people, and an artist
        # named "<script>" must show as text.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # An id as one path segment of a link (an id may hold "?", "#" or "%").
    env.filters["segment"] = lambda value: quote(str(value), safe="")
    env.globals["CURATOR"] = CURATOR
    env.globals["TRUST"] = TRUST
    env.globals["ADMIN"] = ADMIN
    return env


ENVIRONMENT = _environment()


def render(
    template: str, status: int = 200, *, staff: Staff | None = None, **values: Any
) -> HTMLResponse:
    """A page from ``templates/``; pages must never be cached (they hold the CSRF token)."""
    html = ENVIRONMENT.get_template(template).render(staff=staff, **values)
    return HTMLResponse(html, status, headers=PAGE_HEADERS)


PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # Scripts and styles only from this server: a name holding markup that escaped
    # escaping still could not run a script from elsewhere or inline.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def services_of(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def signer(request: Request) -> Signer:
    key: bytes = request.app.state.console_key
    return Signer(key, salt=SIGNER_SALT)


def session_id_of(request: Request) -> str | None:
    """The session id the request's cookie carries, if its signature holds."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return signer(request).unsign(cookie).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def _back_to(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def _session(request: Request) -> tuple[str, ConsoleSession] | None:
    session_id = session_id_of(request)
    if session_id is None:
        return None
    found = services_of(request)
    session = find_session(found.conn(), session_id, found.now())
    return None if session is None else (session_id, session)


async def signed_in(request: Request) -> Staff:
    """The request's staff member; a request without a live session is sent to sign in."""
    live = await run_in_threadpool(_session, request)
    if live is None:
        raise SignInRequiredError(_back_to(request) if request.method == "GET" else COOKIE_PATH)
    session_id, session = live
    # Who is calling, for the audit record of a refusal (as the API's bearer check keeps it).
    request.state.principal = Principal(session.name, session.role)
    key: bytes = request.app.state.console_key
    return Staff(session.name, session.role, csrf_token(key, session_id), services_of(request))


SignedIn = Annotated[Staff, Depends(signed_in)]


def require(staff: Staff, roles: frozenset[Role], what: str) -> None:
    """Refuse (403) a staff member whose role may not ``what``."""
    if not staff.may(roles):
        needed = " or ".join(sorted(roles - {"admin"})) or "admin"
        raise ConsoleRefusalError(
            403, "Not for your role", f"{what} needs the {needed} role; you are {staff.role}"
        )


async def posted_form(request: Request, staff: SignedIn) -> dict[str, str]:
    """A signed-in staff member's form, after its CSRF token was checked: a post from
    another site's page (which cannot know the token) changes nothing."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, staff.csrf):
        raise ConsoleRefusalError(
            403,
            "Form refused",
            "this form's security token is missing or out of date (CSRF check); reload the"
            " page and try again",
        )
    return {k: v for k, v in form.items() if isinstance(v, str)}


Posted = Annotated[dict[str, str], Depends(posted_form)]


def field(form: dict[str, str], name: str) -> str:
    return form.get(name, "").strip()


def segment(value: str) -> str:
    """An id as one path segment of a URL the console redirects to."""
    return quote(value, safe="")


def redirect(to: str) -> RedirectResponse:
    """After a post, the page to show (303: the browser follows with a GET)."""
    return RedirectResponse(to, status_code=303, headers={"Cache-Control": "no-store"})


def sign_in_redirect(back_to: str) -> Response:
    return redirect(f"{COOKIE_PATH}/sign-in?next={quote(back_to, safe='')}")


def install_console_key(request_app_state: Any, found: Services) -> None:
    """Read (or make) the state's console key once, at start-up."""
    request_app_state.console_key = console_key(found.conn(), found.now())
