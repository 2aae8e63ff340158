"""FastAPI dependencies both APIs use: the bearer token (OAuth2 password flow, so /docs
"Authorize" works), the current actor with the registry's role, role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from commands.domain.errors import Forbidden
from identity.actor import Actor
from identity.errors import Unauthorized
from identity.service import Identity

TOKEN_URL = "/auth/token"
oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False,
                              description="An access token from POST /auth/token (command API)")


def identity_of(request: Request) -> Identity:
    return request.app.state.identity


async def current_actor(request: Request,
                        token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    if not token:
        raise Unauthorized("a bearer token is required")
    return await identity_of(request).actor(token)


async def optional_actor(request: Request,
                         token: Annotated[str | None, Depends(oauth2)]) -> Actor | None:
    """The caller if a bearer token came (a bad one is still a 401), else anonymous."""
    if not token:
        return None
    return await identity_of(request).actor(token)


CurrentActor = Annotated[Actor, Depends(current_actor)]
MaybeActor = Annotated[Actor | None, Depends(optional_actor)]


def require_role(*roles: str) -> Callable[[Actor], Actor]:
    def check(actor: CurrentActor) -> Actor:
        if actor.role not in roles and not actor.is_admin:
            raise Forbidden(f"this needs the role {' or '.join(roles)}", "auth.role_required")
        return actor
    return check


AdminActor = Annotated[Actor, Depends(require_role("admin"))]
