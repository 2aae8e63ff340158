"""Notification preferences: one-click unsubscribe from a message's link (no sign-in: the
link is signed), and the signed-in user's own preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, HttpUrl

from commands import messages as m
from commands.api.execution import CommandRunner, Commands
from commands.domain.errors import Forbidden, RuleViolated
from commands.domain.ids import NAMESPACE
from commands.unit_of_work import CommandResult
from identity.http.deps import CurrentActor
from notifications.domain.webhooks import REGISTRY_ID, Webhooks
from notifications.links import read_unsubscribe_token, webhook_secret
from notifications.sender import enable_endpoint, endpoint_rows, ensure_notification_schema
from notifications.webhook_urls import UnsafeWebhookUrl, check_url, resolve_checked

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


Template = Literal["welcome", "reminder", "certificate", "course_starting"]


class WebhookBody(BaseModel):
    url: HttpUrl
    templates: list[Template] = Field(min_length=1)


WEBHOOK_URL_ERRORS = {
    403: {"description": "admins only"},
    422: {"description": "the URL is refused: `webhook.https_required` (http outside the dev "
                         "environment), `webhook.credentials_in_url`, "
                         "`webhook.forbidden_address` (loopback, private, link-local or "
                         "metadata addresses, outside dev), `webhook.unresolvable`, "
                         "`webhook.invalid_url`"}}


def _admin(actor: m.Actor, what: str) -> None:
    if actor.role not in ("admin", "system"):
        raise Forbidden(f"only admins {what} webhooks", "auth.role_required")


@router.post("/webhooks", status_code=201, responses=WEBHOOK_URL_ERRORS)
async def register_webhook(body: WebhookBody, request: Request, commands: Commands):
    """Register an outgoing webhook (admins). The answer carries its signing secret, once:
    each delivery is signed `X-SmartCourse-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>.<body>">`. The URL must be https without credentials, and (outside the dev
    environment) resolve only to public addresses; each delivery checks it again and
    connects only to an address that passed."""
    _admin(commands.actor, "register")
    url, dev = str(body.url), request.app.state.settings.is_dev
    try:
        target = check_url(url, dev=dev)
        if not dev:
            await resolve_checked(target, dev=dev)
    except UnsafeWebhookUrl as unsafe:
        raise RuleViolated(unsafe.message, unsafe.code) from None
    webhook_id = uuid4()
    secret = webhook_secret(request.app.state.link_secret, webhook_id)
    return await commands.run(
        m.RegisterWebhook(webhook_id, url, list(body.templates)),
        lambda r: {"webhook_id": str(webhook_id), "secret": secret}, status_code=201)


@router.delete("/webhooks/{webhook_id}", responses={403: {"description": "admins only"},
                                                     404: {"description": "no such webhook"}})
async def remove_webhook(webhook_id: UUID, commands: Commands):
    return await commands.run(m.RemoveWebhook(webhook_id),
                              lambda r: {"webhook_id": str(webhook_id), "removed": r.changed})


class WebhookState(BaseModel):
    webhook_id: UUID
    url: str
    templates: list[str]
    enabled: bool = Field(description="false once the platform disabled it (it kept failing)"
                                      "; `POST /webhooks/{id}/enable` turns it back on")
    disabled_reason: str | None
    circuit: Literal["CLOSED", "OPEN", "HALF_OPEN", "DISABLED"] = Field(
        description="CLOSED: delivered; OPEN: deliveries wait (none is tried) until a probe "
                    "after `retry_at`; HALF_OPEN: the probe is out; DISABLED: given up")
    consecutive_failures: int
    failing_since: datetime | None
    retry_at: datetime | None
    last_error: str
    last_failure_at: datetime | None
    last_success_at: datetime | None
    waiting: int = Field(description="deliveries in the outbox for it")
    parked: int = Field(description="requests held back while its circuit was open, taken "
                                    "back from the event store once it closes")


class WebhookList(BaseModel):
    webhooks: list[WebhookState]


async def _endpoints(request: Request) -> dict[UUID, dict[str, object]]:
    pool = request.app.state.pool
    if not getattr(request.app.state, "notification_schema", False):
        await ensure_notification_schema(pool)
        request.app.state.notification_schema = True
    async with pool.connection() as conn:
        return await endpoint_rows(conn)


@router.get("/webhooks", response_model=WebhookList,
            responses={403: {"description": "admins only"}})
async def list_webhooks(request: Request, actor: CurrentActor) -> WebhookList:
    """The registered webhooks with their delivery health (admins): circuit state,
    failures in a row, the last error."""
    _admin(actor, "list")
    registry = await request.app.state.bus.peek(Webhooks, REGISTRY_ID)
    rows = await _endpoints(request)
    found = []
    for hook, (url, templates) in sorted(registry.hooks.items()) if registry else []:
        row = rows.get(hook, {})
        off = getattr(registry, "disabled", {})
        circuit = "DISABLED" if hook in off else str(row.get("state", "CLOSED"))
        found.append(WebhookState(
            webhook_id=hook, url=url, templates=list(templates), enabled=hook not in off,
            disabled_reason=off.get(hook), circuit=circuit,  # type: ignore[arg-type]
            consecutive_failures=int(row.get("failures", 0)),  # type: ignore[call-overload]
            failing_since=row.get("failing_since"), retry_at=row.get("retry_at"),
            last_error=str(row.get("last_error", "")),
            last_failure_at=row.get("last_failure_at"),
            last_success_at=row.get("last_success_at"),
            waiting=int(row.get("waiting", 0)),  # type: ignore[call-overload]
            parked=int(row.get("parked", 0))))  # type: ignore[call-overload]
    return WebhookList(webhooks=found)


@router.post("/webhooks/{webhook_id}/enable",
             responses={403: {"description": "admins only"},
                        404: {"description": "no such webhook"}})
async def enable_webhook(webhook_id: UUID, request: Request, commands: Commands):
    """Turn a webhook the platform disabled back on (admins): its circuit closes and its
    failures count from zero."""
    _admin(commands.actor, "enable")
    answer = await commands.run(m.EnableWebhook(webhook_id),
                                lambda r: {"webhook_id": str(webhook_id), "enabled": True,
                                           "changed": r.changed})
    await _endpoints(request)  # the table exists
    async with request.app.state.pool.connection() as conn:
        await enable_endpoint(conn, webhook_id)
    return answer
