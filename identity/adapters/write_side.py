"""The registry and the email claims as the write side holds them: its aggregates, from the
command bus's cache (caught up with other processes' appends), so the command API answers
"who is this user now" without a query per request."""

from __future__ import annotations

from uuid import UUID

from commands.bus import CommandBus
from commands.domain.email_claim import EmailClaim
from commands.domain.ids import email_claim_id
from commands.domain.user import User
from identity.adapters.stores import Account


class AggregateAccounts:
    def __init__(self, bus: CommandBus) -> None:
        self.bus = bus

    async def lookup(self, user_id: UUID) -> Account | None:
        user = await self.bus.peek(User, user_id)
        return Account(user.id, user.role, user.active) if user is not None else None


class EmailClaims:
    def __init__(self, bus: CommandBus) -> None:
        self.bus = bus

    async def user_of(self, normalised_email: str) -> UUID | None:
        claim = await self.bus.peek(EmailClaim, email_claim_id(normalised_email))
        return claim.user_id if claim is not None else None
