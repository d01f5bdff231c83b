"""Bearer tokens and roles: who may call the staff and app endpoints.

A token is looked up by its hash on every call (no cache), so a revocation counts at the next
request. ``admin`` may call every endpoint. The caller found here is kept on the request, so
that the audit record of a refused or failed call names who made it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from recsys.api.errors import forbidden, unauthorized
from recsys.api.services import Services, services
from recsys.tokens import Role, find_token

ANONYMOUS = "anonymous"
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


def require_role(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting callers with one of ``roles`` (and admins); 401 or 403 else."""
    allowed = frozenset(roles) | {"admin"}
    needed = " or ".join(sorted(allowed))

    def authenticate(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        found: Annotated[Services, Depends(services)],
    ) -> Principal:
        if credentials is None:
            raise unauthorized("this endpoint needs an 'Authorization: Bearer <token>' header")
        token = find_token(found.conn(), credentials.credentials)
        if token is None:
            raise unauthorized("the bearer token is unknown or revoked")
        principal = Principal(token.name, token.role)
        request.state.principal = principal
        if token.role not in allowed:
            raise forbidden(f"role '{token.role}' may not call this endpoint; it needs {needed}")
        return principal

    return authenticate
