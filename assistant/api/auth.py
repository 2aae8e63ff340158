"""Who asks: the bearer token, verified the way both platform APIs verify it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.api.errors import Unauthorized
from commands.api.auth import actor_from_token
from commands.domain.errors import SmartCourseError
from commands.messages import Actor

bearer = HTTPBearer(auto_error=False, description="JWT of the platform (POST /auth/token)")


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    try:
        return actor_from_token(request.app.state.settings, credentials.credentials)
    except SmartCourseError as error:
        raise Unauthorized(error.message) from None


CurrentActor = Annotated[Actor, Depends(current_actor)]
