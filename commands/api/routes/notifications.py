"""Notification preferences: one-click unsubscribe from a message's link (no sign-in: the
link is signed), and the signed-in user's own preferences."""

from __future__ import annotations

from typing import Literal
from uuid import UUID, uuid5

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from commands import messages as m
from commands.api.execution import CommandRunner, Commands
from commands.domain.errors import RuleViolated
from commands.domain.ids import NAMESPACE
from commands.unit_of_work import CommandResult
from notifications.links import read_unsubscribe_token

router = APIRouter(tags=["notifications"])
Category = Literal["welcome", "reminder", "certificate", "all"]
LINKS = m.Actor(user_id=uuid5(NAMESPACE, "actor:unsubscribe-links"), role="system")


def written(result: CommandResult) -> dict[str, object]:
    return {"user_id": None, "changed": result.changed}


class PreferenceBody(BaseModel):
    unsubscribe: list[Category] = Field(default_factory=list)
    resubscribe: list[Category] = Field(default_factory=list)
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")


@router.api_route("/unsubscribe", methods=["GET", "POST"],
                  responses={422: {"description": "the link is not genuine"}})
async def unsubscribe_by_link(request: Request, token: str = Query(max_length=512)):
    """One click (GET from the message, or POST as RFC 8058's List-Unsubscribe-Post)."""
    found = read_unsubscribe_token(request.app.state.link_secret, token)
    if found is None:
        raise RuleViolated("the unsubscribe link is not genuine", "notification.invalid_link")
    user_id, category = found
    runner = CommandRunner(request, LINKS)
    return await runner.run(m.Unsubscribe(user_id, category, "link"), lambda r: {
        "user_id": str(user_id), "unsubscribed": category, "changed": r.changed})


@router.post("/users/{user_id}/notification-preferences")
async def change_preferences(user_id: UUID, body: PreferenceBody, commands: Commands):
    """The user's own choices (admins: anyone's)."""
    last = None
    for category in body.unsubscribe:
        last = await commands.run(m.Unsubscribe(user_id, category), written)
    for category in body.resubscribe:
        last = await commands.run(m.Resubscribe(user_id, category), written)
    if body.locale:
        last = await commands.run(m.ChooseLocale(user_id, body.locale), written)
    if last is None:
        raise RuleViolated("nothing to change", "preferences.empty")
    return last
