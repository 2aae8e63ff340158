"""What identity does, over its stores: who a token's user is now, password logins, refresh
rotation, revocation. No HTTP here (identity.http maps it) and no settings (the composition
root builds it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from identity.actor import Actor
from identity.adapters.stores import Account, Credentials, RefreshOutcome, RefreshTokens
from identity.errors import AccountRefused, OAuthError, Unauthorized
from identity.passwords import Passwords
from identity.tokens import TokenIssuer


class AccountDirectory(Protocol):
    """Who a user is now: the account registry (never a token's claim)."""

    async def lookup(self, user_id: UUID) -> Account | None: ...


class EmailDirectory(Protocol):
    """Which user holds a normalised email (the write side's email claims)."""

    async def user_of(self, normalised_email: str) -> UUID | None: ...


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str | None
    user_id: UUID
    role: str


class Identity:
    def __init__(self, issuer: TokenIssuer, accounts: AccountDirectory,
                 passwords: Passwords | None = None, credentials: Credentials | None = None,
                 refresh: RefreshTokens | None = None,
                 emails: EmailDirectory | None = None) -> None:
        self.issuer = issuer
        self.accounts = accounts
        self.passwords = passwords
        self.credentials = credentials
        self.refresh = refresh
        self.emails = emails

    # -- every request ---------------------------------------------------------------------
    async def actor(self, token: str) -> Actor:
        """The actor a bearer token stands for, with the role and state the registry holds."""
        claims = self.issuer.verify(token)
        account = await self.accounts.lookup(claims.user_id)
        if account is None:
            raise Unauthorized("the token's user is not registered", "auth.unknown_user")
        if not account.active:
            raise AccountRefused("this account is deactivated")
        return Actor(user_id=account.user_id, role=account.role)

    # -- the token endpoint (the command API's) --------------------------------------------
    async def password_grant(self, normalised_email: str, password: str) -> Tokens:
        assert self.passwords and self.credentials and self.emails and self.refresh
        user_id = await self.emails.user_of(normalised_email)
        stored = await self.credentials.get(user_id) if user_id is not None else None
        matches = await asyncio.to_thread(self.passwords.verify, stored, password)
        account = await self.accounts.lookup(user_id) if user_id is not None else None
        if not matches or account is None:
            raise OAuthError("invalid_grant", "the email or the password is wrong")
        if not account.active:
            raise OAuthError("invalid_grant", "this account is deactivated")
        if stored is not None and self.passwords.needs_rehash(stored):
            await self.credentials.put(account.user_id,
                                       await asyncio.to_thread(self.passwords.hash, password))
        family = await self.refresh.start_family(account.user_id)
        return self._tokens(account, family.family_id, family.token)

    async def refresh_grant(self, refresh_token: str) -> Tokens:
        assert self.refresh
        try:
            rotated = await self.refresh.rotate(refresh_token)
        except RefreshOutcome as refused:
            message = {"reused": "this refresh token was already used: every token of its "
                                 "login is now revoked",
                       "revoked": "this refresh token was revoked",
                       "expired": "this refresh token has expired"}.get(
                refused.reason, "unknown refresh token")
            raise OAuthError("invalid_grant", message) from None
        account = await self.accounts.lookup(rotated.user_id)
        if account is None or not account.active:
            await self.refresh.revoke_family(rotated.family_id)
            raise OAuthError("invalid_grant", "this account is deactivated")
        return self._tokens(account, rotated.family_id, rotated.token)

    async def revoke(self, token: str) -> None:
        """RFC 7009: revoke a refresh token's login (or an access token's); unknown tokens
        are not an error."""
        assert self.refresh
        family = await self.refresh.family_of(token)
        if family is None:
            try:
                family = self.issuer.verify(token).session_id
            except Unauthorized:
                family = None
        if family is not None:
            await self.refresh.revoke_family(family)

    def dev_token(self, account: Account) -> Tokens:
        return self._tokens(account, None, None)

    def _tokens(self, account: Account, session: UUID | None, refresh: str | None) -> Tokens:
        access = self.issuer.issue(account.user_id, account.role, session)
        return Tokens(access, self.issuer.ttl_seconds, refresh, account.user_id, account.role)
