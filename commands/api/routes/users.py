"""Users and the local token endpoint."""

from __future__ import annotations

from uuid import uuid4

from fastapi import APIRouter, Request

from commands.api.auth import issue_token
from commands.api.execution import Commands
from commands.api.models import RegisterUserBody, TokenRequest, TokenResponse, UserWritten
from commands.domain.errors import NotFound
from commands.messages import RegisterUser

router = APIRouter(tags=["users"])


@router.post("/auth/token", response_model=TokenResponse,
             responses={404: {"description": "disabled outside local development"}})
async def token(body: TokenRequest, request: Request) -> TokenResponse:
    """Issue a token for any user and role: for local development and tests only."""
    settings = request.app.state.settings
    if not settings.dev_token_endpoint:
        raise NotFound("the token endpoint is disabled", "auth.token_endpoint_disabled")
    return TokenResponse(access_token=issue_token(settings, body.user_id, body.role),
                         expires_in=settings.jwt_ttl_seconds)


@router.post("/users", status_code=201, response_model=UserWritten,
             responses={409: {"description": "already registered"}})
async def register_user(body: RegisterUserBody, commands: Commands):
    """Students register themselves; admins register anyone, with any role."""
    user_id = body.user_id or (commands.actor.user_id if body.role == "student" else uuid4())
    command = RegisterUser(user_id, body.display_name, body.email, body.role)
    return await commands.run(command, lambda r: {"user_id": str(r.aggregate_id)},
                              status_code=201)



