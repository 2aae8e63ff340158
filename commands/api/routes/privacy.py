"""A user's privacy: consent to optional processing, and erasure of their personal data."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from commands import messages as m
from commands.api.execution import Commands
from commands.api.models import ConsentBody, ErasureBody, UserWritten

router = APIRouter(tags=["privacy"])


def _user(result) -> dict[str, object]:  # noqa: ANN001 - a CommandResult
    return {"user_id": str(result.aggregate_id)}


@router.post("/users/{user_id}/consents", response_model=UserWritten,
             responses={403: {"description": "not your own account"}})
async def give_consent(user_id: UUID, body: ConsentBody, commands: Commands):
    """Agree to an optional processing (`analytics` beyond the minimum, `marketing`
    notifications). The user themself only; giving it twice changes nothing."""
    return await commands.run(m.GiveConsent(user_id, body.purpose), _user)


@router.delete("/users/{user_id}/consents/{purpose}", response_model=UserWritten,
               responses={403: {"description": "not your own account (admins may)"}})
async def withdraw_consent(user_id: UUID, purpose: str, commands: Commands):
    """Withdraw a consent (the user, or an admin on their behalf)."""
    return await commands.run(m.WithdrawConsent(user_id, purpose), _user)


@router.post("/users/{user_id}/erasure", response_model=UserWritten,
             responses={403: {"description": "not your own account (admins may)"},
                        404: {"description": "no such user"}})
async def erase(user_id: UUID, commands: Commands, body: ErasureBody | None = None):
    """Erase the user's personal data by deleting their data key (crypto-shredding): the
    user themself or an admin. Every store shows the user as erased from then on."""
    return await commands.run(m.EraseUser(user_id, body.reason if body else ""), _user)
