"""JWT bearer authentication (HS256, key from settings) and the local token endpoint."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Annotated
from uuid import UUID

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from commands.api.errors import Unauthorized
from commands.messages import Actor
from smartcourse.settings import Settings

TOKEN_ROLES = ("student", "instructor", "admin")
bearer = HTTPBearer(auto_error=False, description="JWT from POST /auth/token")


def issue_token(settings: Settings, user_id: UUID, role: str) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "role": role, "iat": now, "exp": now + settings.jwt_ttl_seconds}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def actor_from_token(settings: Settings, token: str) -> Actor:
    """The token's actor. A token's signature is checked once (its expiry every time):
    clients send the same token with every request, and checking it is a tenth of a
    request's CPU."""
    actor, expires = _verified(settings.jwt_secret, token)
    if expires <= time.time():
        raise Unauthorized("invalid bearer token: Signature has expired")
    return actor


@lru_cache(maxsize=65_536)
def _verified(secret: str, token: str) -> tuple[Actor, float]:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp"]})
        role = claims.get("role")
        if role not in (*TOKEN_ROLES, "system"):
            raise Unauthorized("the token carries no valid role")
        return Actor(user_id=UUID(claims["sub"]), role=role), float(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise Unauthorized(f"invalid bearer token: {error}") from None


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    return actor_from_token(request.app.state.settings, credentials.credentials)


CurrentActor = Annotated[Actor, Depends(current_actor)]
