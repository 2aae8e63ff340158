"""OAuth2 endpoints of the command API (RFC 6749 password and refresh_token grants, RFC
7009 revocation), logout, the JWKS, and, in development only, /auth/dev-token."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from commands.domain.errors import NotFound, RuleViolated
from identity.emails import normalise_email
from identity.errors import OAuthError
from identity.http.deps import CurrentActor, identity_of, oauth2
from identity.service import Tokens

router = APIRouter(tags=["auth"])
dev_router = APIRouter(tags=["auth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str | None = None
    user_id: UUID
    role: str


def token_reply(tokens: Tokens) -> JSONResponse:
    body = TokenResponse(access_token=tokens.access_token, expires_in=tokens.expires_in,
                         refresh_token=tokens.refresh_token, user_id=tokens.user_id,
                         role=tokens.role)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), headers=NO_STORE)


@router.post("/auth/token", response_model=TokenResponse,
             responses={400: {"description": "invalid_grant, unsupported_grant_type, "
                                             "invalid_request (RFC 6749 §5.2)"},
                        429: {"description": "too many attempts; see Retry-After"}})
async def token(
    request: Request,
    grant_type: Annotated[str, Form(description="`password` or `refresh_token`")],
    username: Annotated[str | None, Form(description="the account's email")] = None,
    password: Annotated[str | None, Form(max_length=1024)] = None,
    refresh_token: Annotated[str | None, Form(max_length=512)] = None,
    scope: Annotated[str, Form(description="unused")] = "",
) -> JSONResponse:
    """OAuth2 token endpoint (form-encoded). `grant_type=password` with `username` (the
    email) and `password` starts a login; `grant_type=refresh_token` spends a refresh token
    for a new pair (each refresh token works once: reusing one revokes its whole login)."""
    identity = identity_of(request)
    throttle = request.app.state.throttle
    if grant_type == "password":
        if not username or password is None:
            raise OAuthError("invalid_request", "the password grant needs username and password")
        try:
            email = normalise_email(username)
        except RuleViolated:
            email = username.strip().lower()
        await throttle.login(client_ip(request), email)
        return token_reply(await identity.password_grant(email, password))
    if grant_type == "refresh_token":
        if not refresh_token:
            raise OAuthError("invalid_request", "the refresh_token grant needs refresh_token")
        await throttle.login(client_ip(request), None)
        return token_reply(await identity.refresh_grant(refresh_token))
    raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


@router.post("/auth/revoke", responses={200: {"description": "revoked (or unknown: RFC 7009 "
                                                             "§2.2 answers 200 all the same)"}})
async def revoke(
    request: Request,
    token: Annotated[str, Form(max_length=4096)],
    token_type_hint: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """RFC 7009: revoke a refresh token (and its login), or the login of an access token."""
    await request.app.state.throttle.login(client_ip(request), None)
    await identity_of(request).revoke(token)
    return JSONResponse({}, headers=NO_STORE)


@router.post("/auth/logout", status_code=204)
async def logout(request: Request, actor: CurrentActor,
                 token: Annotated[str | None, Depends(oauth2)]) -> None:
    """End this login: its refresh tokens stop working (the access token expires soon)."""
    if token:
        await identity_of(request).revoke(token)


@router.get("/.well-known/jwks.json", tags=["auth"])
async def jwks(request: Request) -> JSONResponse:
    """The public keys that verify access tokens (RFC 7517), by `kid`."""
    return JSONResponse(identity_of(request).issuer.keyring.jwks(),
                        headers={"Cache-Control": "public, max-age=60"})


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: UUID


@dev_router.post("/auth/dev-token", response_model=TokenResponse,
                 responses={404: {"description": "no such registered user"}})
async def dev_token(body: DevTokenRequest, request: Request) -> JSONResponse:
    """Development only (SMARTCOURSE_ENV=dev): an access token for a registered user, with the
    role the registry gives them (never one the caller asks for)."""
    identity = identity_of(request)
    account = await identity.accounts.lookup(body.user_id)
    if account is None or not account.active:
        raise NotFound("no such active user", "user.not_found")
    return token_reply(identity.dev_token(account))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
