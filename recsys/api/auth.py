"""Bearer tokens and roles: who may call the staff and app endpoints, checked before the body.

A token is looked up by its hash on every call (no cache), so a revocation counts at the next
request. ``admin`` may call every endpoint. The caller found here is kept on the request, so
that the audit record of a refused or failed call names who made it.

Authentication comes before the request body is read. FastAPI reads and parses a route's
body before it solves any dependency, so ``require_role`` alone would let an anonymous caller
make the server receive and parse a whole body (of any size, or one never finished) only to
be told 401. ``AuthFirstRoute``, the route class of every router of the API, therefore checks
the bearer token of each route that declares ``require_role`` as soon as the route matched,
before the body is received; the dependency then finds the caller already authenticated (and
still documents the bearer scheme in ``/openapi.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from recsys.api.errors import forbidden, unauthorized
from recsys.api.services import Services, services
from recsys.state.tokens import Role, find_token

# The attribute under which a ``require_role`` dependency carries the roles it admits, so
# that the route class can find them in a route's dependencies.
ROLES_ATTRIBUTE = "recsys_allowed_roles"
bearer = HTTPBearer(
    auto_error=False,
    description="A token made with `recsys tokens add --name NAME --role ROLE`.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a valid token stands for."""

    name: str
    role: Role


def caller_of(request: Request) -> Principal | None:
    """The authenticated caller of this request, if authentication got that far."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


def bearer_secret(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None (what ``HTTPBearer``
    with ``auto_error=False`` accepts, so both checks agree on what counts as a token)."""
    header = request.headers.get("Authorization")
    scheme, credentials = get_authorization_scheme_param(header)
    if not (header and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials


def authenticate(
    request: Request, found: Services, secret: str | None, allowed: frozenset[str]
) -> Principal:
    """The caller of ``request`` if their token admits one of ``allowed``; 401 or 403 else.

    A caller already authenticated for this request (by ``AuthFirstRoute``) is not looked
    up again."""
    known = caller_of(request)
    if known is not None and known.role in allowed:
        return known
    if secret is None:
        raise unauthorized("this endpoint needs an 'Authorization: Bearer <token>' header")
    token = find_token(found.conn(), secret)
    if token is None:
        raise unauthorized("the bearer token is unknown or revoked")
    principal = Principal(token.name, token.role)
    request.state.principal = principal
    if token.role not in allowed:
        needed = " or ".join(sorted(allowed))
        raise forbidden(f"role '{token.role}' may not call this endpoint; it needs {needed}")
    return principal


def require_role(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting callers with one of ``roles`` (and admins); 401 or 403 else."""
    allowed = frozenset(roles) | {"admin"}

    def authenticated(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        found: Annotated[Services, Depends(services)],
    ) -> Principal:
        secret = credentials.credentials if credentials is not None else None
        return authenticate(request, found, secret, allowed)

    setattr(authenticated, ROLES_ATTRIBUTE, allowed)
    return authenticated


def required_roles(dependant: Dependant) -> list[frozenset[str]]:
    """The role sets of every ``require_role`` among a route's dependencies (nested too).

    The routes of this API declare their role as a parameter; a router-level dependency
    would not be in the route's own ``dependant`` and would be checked after the body."""
    found: list[frozenset[str]] = []
    for dependency in dependant.dependencies:
        roles = getattr(dependency.call, ROLES_ATTRIBUTE, None)
        if isinstance(roles, frozenset):
            found.append(roles)
        found += required_roles(dependency)
    return found


def _authenticate_first(request: Request, role_sets: list[frozenset[str]]) -> None:
    found: Services = request.app.state.services
    secret = bearer_secret(request)
    for allowed in role_sets:
        authenticate(request, found, secret, allowed)


class AuthFirstRoute(APIRoute):
    """A route that refuses a caller without a valid token (401) or role (403) before its
    body is received: anonymous traffic costs a header check, never a body read or parse.

    Routes without ``require_role`` (the open listener reads) run unchanged."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        role_sets = required_roles(self.dependant)
        if not role_sets:
            return handler

        async def authenticated_first(request: Request) -> Response:
            # The token lookup is a SQLite read: in the thread pool, with this thread's
            # connection, as the endpoints' own reads.
            await run_in_threadpool(_authenticate_first, request, role_sets)
            return await handler(request)

        return authenticated_first
