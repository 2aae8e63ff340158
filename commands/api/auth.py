"""JWT bearer authentication (HS256, key from settings) and the local token endpoint."""

from __future__ import annotations

import time
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
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp"]})
        role = claims.get("role")
        if role not in (*TOKEN_ROLES, "system"):
            raise Unauthorized("the token carries no valid role")
        return Actor(user_id=UUID(claims["sub"]), role=role)
    except (jwt.PyJWTError, ValueError) as error:
        raise Unauthorized(f"invalid bearer token: {error}") from None


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    return actor_from_token(request.app.state.settings, credentials.credentials)


CurrentActor = Annotated[Actor, Depends(current_actor)]
