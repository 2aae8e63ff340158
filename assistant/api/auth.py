"""Who asks: the bearer token, verified the way both platform APIs verify it (identity)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistant.api.errors import Unauthorized
from commands.domain.errors import SmartCourseError
from identity.actor import Actor
from identity.http.deps import oauth2


async def current_actor(request: Request,
                        token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    if not token:
        raise Unauthorized("a bearer token is required")
    try:
        return await request.app.state.identity.actor(token)
    except SmartCourseError as error:
        raise Unauthorized(error.message) from None


CurrentActor = Annotated[Actor, Depends(current_actor)]
