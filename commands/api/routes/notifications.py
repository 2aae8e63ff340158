"""Notification preferences: one-click unsubscribe from a message's link (no sign-in: the
link is signed), and the signed-in user's own preferences."""

from __future__ import annotations

from typing import Literal
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, HttpUrl

from commands import messages as m
from commands.api.execution import CommandRunner, Commands
from commands.domain.errors import RuleViolated
from commands.domain.ids import NAMESPACE
from commands.unit_of_work import CommandResult
from notifications.links import read_unsubscribe_token, webhook_secret

router = APIRouter(tags=["notifications"])
Category = Literal["welcome", "reminder", "certificate", "all"]
LINKS = m.Actor(user_id=uuid5(NAMESPACE, "actor:unsubscribe-links"), role="system")


def written(result: CommandResult) -> dict[str, object]:
    return {"user_id": None, "changed": result.changed}


class PreferenceBody(BaseModel):
    unsubscribe: list[Category] = Field(default_factory=list)
    resubscribe: list[Category] = Field(default_factory=list)
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")


LINK_ERRORS = {422: {"description": "the link is not genuine"}}


@router.get("/unsubscribe", responses=LINK_ERRORS, operation_id="unsubscribe_by_link")
@router.post("/unsubscribe", responses=LINK_ERRORS, operation_id="unsubscribe_by_link_post")
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


Template = Literal["welcome", "reminder", "certificate"]


class WebhookBody(BaseModel):
    url: HttpUrl
    templates: list[Template] = Field(min_length=1)


@router.post("/webhooks", status_code=201, responses={403: {"description": "admins only"}})
async def register_webhook(body: WebhookBody, request: Request, commands: Commands):
    """Register an outgoing webhook (admins). The answer carries its signing secret, once:
    each delivery is signed `X-SmartCourse-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>.<body>">`."""
    webhook_id = uuid4()
    secret = webhook_secret(request.app.state.link_secret, webhook_id)
    return await commands.run(
        m.RegisterWebhook(webhook_id, str(body.url), list(body.templates)),
        lambda r: {"webhook_id": str(webhook_id), "secret": secret}, status_code=201)


@router.delete("/webhooks/{webhook_id}", responses={403: {"description": "admins only"},
                                                     404: {"description": "no such webhook"}})
async def remove_webhook(webhook_id: UUID, commands: Commands):
    return await commands.run(m.RemoveWebhook(webhook_id),
                              lambda r: {"webhook_id": str(webhook_id), "removed": r.changed})
