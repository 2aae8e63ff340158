"""Builds the enrollment workflow and the notification sender from settings (their piece of
the composition root); tests pass their own clock, backoff or channels as parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from notifications.breaker import BreakerPolicy
from notifications.channels import EmailChannel, WebhookChannel
from notifications.links import webhook_secret
from notifications.sender import Links, NotificationSender, Retry, ensure_notification_schema
from smartcourse.bootstrap import WriteSide, link_secret, open_write_side
from smartcourse.settings import Settings
from streams.workflows.enrollment import Backoff
from streams.workflows.enrollment_runner import SYSTEM, EnrollmentWorkflow, ensure_workflow_schema


@dataclass
class Processes:
    side: WriteSide
    workflow: EnrollmentWorkflow
    sender: NotificationSender


def email_channel(settings: Settings) -> EmailChannel:
    return EmailChannel(settings.smtp_host, settings.smtp_port, settings.mail_sender,
                        settings.smtp_username, settings.smtp_password, settings.smtp_starttls,
                        settings.smtp_timeout, settings.mail_lookup_url)


def breaker_policy(settings: Settings) -> BreakerPolicy:
    return BreakerPolicy(settings.webhook_breaker_failures,
                         timedelta(seconds=settings.webhook_breaker_cooldown_seconds),
                         timedelta(seconds=settings.webhook_breaker_max_cooldown_seconds),
                         timedelta(hours=settings.webhook_disable_after_hours))


@asynccontextmanager
async def open_processes(settings: Settings, retry: Retry | None = None,
                         circuit: BreakerPolicy | None = None) -> AsyncIterator[Processes]:
    secret = link_secret(settings)  # signs unsubscribe links and derives webhook secrets
    side = await open_write_side(settings)
    try:
        await ensure_workflow_schema(side.pool)
        await ensure_notification_schema(side.pool)
        workflow = EnrollmentWorkflow(
            side.bus, side.pool, timedelta(days=settings.reminder_inactive_days),
            Backoff(attempts=settings.enrollment_step_attempts), redis=side.redis,
            start_lead=timedelta(hours=settings.course_start_reminder_hours))
        sender = NotificationSender(
            side.bus, side.pool, {
                "email": email_channel(settings),
                "webhook": WebhookChannel(lambda hook: webhook_secret(secret, UUID(hook)),
                                          dev=settings.is_dev)},
            Links(secret, settings.public_query_url, settings.public_command_url),
            SYSTEM, retry or Retry(settings.notification_attempts,
                                   settings.notification_retry_base_delay,
                                   settings.notification_retry_max_delay),
            circuit=circuit or breaker_policy(settings))
        yield Processes(side, workflow, sender)
    finally:
        await side.close()
