"""The notification service's consumer: `notification.requested` in, a message out, and a
receipt (`notification.sent` / `notification.failed`) back into the event store.

Deduplication: before sending, the notification's own history is read from the event store;
one already SENT, FAILED or SUPPRESSED is not sent again, so a redelivered request (a
restarted worker, a replay) never sends twice. A crash between the SMTP transaction and the
receipt's commit leaves a claim (`notifications.claims`, committed before the send) without
a receipt: the next run asks the channel whether that message was delivered (`confirm`: the
local Mailpit answers by Message-ID, which derives from the notification id) and records
the receipt instead of sending again; a channel that cannot tell sends again (at least
once, with the same Message-ID for the receiver to drop).

Retries: a transient failure (SMTP unreachable, a 5xx) is retried with exponential backoff
and full jitter up to `attempts`; then the receipt says failed and the request lands in the
dead letters (`notifications.dead_letters`), from which `redrive` sends it again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from commands.adapters.event_store import StoredEvent
from commands.bus import CommandBus
from commands.messages import Actor, RecordNotificationFailed, RecordNotificationSent
from notifications.channels import (
    WEBHOOK_HEADER,
    Channel,
    DeliveryFailed,
    Outgoing,
    Undeliverable,
)
from notifications.links import unsubscribe_token
from notifications.rendering import render
from privacy.sealing import ERASED

log = logging.getLogger("smartcourse.notifications")

REQUESTED = "notification.requested"
FINAL = frozenset({"notification.sent", "notification.failed", "notification.suppressed"})
SENDS = Counter("smartcourse_notifications_total", "Notifications handled, by outcome",
                ["channel", "outcome"])

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS notifications;
CREATE TABLE IF NOT EXISTS notifications.claims (
    notification_id uuid PRIMARY KEY,
    claimed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS notifications.dead_letters (
    notification_id uuid PRIMARY KEY,
    reason          text NOT NULL,
    attempts        int NOT NULL,
    failed_at       timestamptz NOT NULL DEFAULT now()
);
"""


async def ensure_notification_schema(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('notifications'))")
        await conn.execute(SCHEMA)


@dataclass(frozen=True)
class Retry:
    attempts: int = 10
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, failures: int, rng: random.Random) -> float:
        return rng.uniform(self.base_delay / 2,
                           min(self.max_delay, self.base_delay * 2 ** (failures - 1)))


@dataclass
class Links:
    secret: str
    query_url: str
    command_url: str

    def variables(self, user_id: UUID, category: str, given: dict[str, str]) -> dict[str, str]:
        course = given.get("course_id", "")
        certificate = given.get("certificate_id", "")
        return {**given,
                "course_url": f"{self.query_url}/courses/{course}",
                "certificate_url": f"{self.query_url}/certificates/{certificate}",
                "unsubscribe_url": f"{self.command_url}/unsubscribe?token="
                                   + unsubscribe_token(self.secret, user_id, category)}


@dataclass
class NotificationSender:
    bus: CommandBus
    pool: AsyncConnectionPool
    channels: dict[str, Channel]
    links: Links
    actor: Actor
    retry: Retry = field(default_factory=Retry)
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    concurrency: int = 16  # SMTP transactions at once
    _slots: asyncio.Semaphore | None = None

    async def handle_all(self, events: Iterable[StoredEvent]) -> int:
        requests = [e for e in events if e.event_type == REQUESTED]
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        results = await asyncio.gather(*(self._limited(e) for e in requests))
        return sum(results)

    async def _limited(self, event: StoredEvent) -> bool:
        assert self._slots is not None
        async with self._slots:
            return await self.handle(event)

    async def _claim(self, notification_id: UUID) -> bool:
        """Record that a send begins; False if an earlier run had begun it already."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO notifications.claims (notification_id) VALUES (%s)"
                " ON CONFLICT DO NOTHING", [notification_id])
            return cur.rowcount == 1

    async def handle(self, event: StoredEvent) -> bool:
        """Send one requested notification unless it was settled already; True if sent."""
        history = await self.bus.store.load(event.aggregate_id)
        if any(e.event_type in FINAL for e in history):
            SENDS.labels(event.payload.get("channel", "?"), "duplicate").inc()
            return False
        # The address and variables are sealed with the user's data key (privacy/sealing.py).
        p = await self.bus.personal.open(event.event_type, event.aggregate_id, event.payload)
        if p["address"] == ERASED:
            return await self._failed(event, 0, "the user's personal data was erased")
        channel = self.channels.get(p["channel"])
        user = UUID(str(p["user_id"]))
        variables = self.links.variables(user, p["category"], dict(p["variables"]))
        unsubscribe = variables["unsubscribe_url"]
        try:
            message = render(p["template"], p["locale"], variables)
        except Exception as error:  # noqa: BLE001 - a template that fails is this request's fault
            return await self._failed(event, 0, f"template: {type(error).__name__}: {error}")
        if channel is None:
            return await self._failed(event, 0, f"no channel {p['channel']!r}")
        headers = {"X-SmartCourse-Template": p["template"]}
        if "webhook_id" in variables:
            headers[WEBHOOK_HEADER] = variables["webhook_id"]
        outgoing = Outgoing(str(event.aggregate_id), p["address"], message, unsubscribe,
                            headers)
        if not await self._claim(event.aggregate_id):
            confirm = getattr(channel, "confirm", None)
            delivered = await confirm(outgoing) if confirm is not None else None
            if delivered is not None:
                SENDS.labels(channel.name, "confirmed").inc()
                await self._sent(event, 1, delivered)
                return True
        for attempt in range(1, self.retry.attempts + 1):
            try:
                provider_id = await channel.send(outgoing)
            except Undeliverable as error:
                return await self._failed(event, attempt, str(error))
            except DeliveryFailed as error:
                if attempt == self.retry.attempts:
                    return await self._failed(event, attempt, str(error))
                delay = self.retry.delay(attempt, self.rng)
                log.warning("notification not delivered; retrying", extra={
                    "notification_id": str(event.aggregate_id), "attempt": attempt,
                    "delay": round(delay, 2), "error": str(error)})
                await self.sleep(delay)
                continue
            await self._sent(event, attempt, provider_id)
            SENDS.labels(channel.name, "sent").inc()
            return True
        raise AssertionError("unreachable")

    async def _sent(self, event: StoredEvent, attempts: int, provider_id: str) -> None:
        await self.bus.execute(RecordNotificationSent(event.aggregate_id, attempts,
                                                      provider_id), self.actor,
                               correlation_id=event.correlation_id, causation_id=event.event_id)

    async def _failed(self, event: StoredEvent, attempts: int, reason: str) -> bool:
        log.error("notification failed", extra={"notification_id": str(event.aggregate_id),
                                                "attempts": attempts, "reason": reason})
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO notifications.dead_letters (notification_id, reason, attempts)"
                " VALUES (%s, %s, %s) ON CONFLICT (notification_id) DO UPDATE SET"
                " reason = EXCLUDED.reason, attempts = EXCLUDED.attempts, failed_at = now()",
                [event.aggregate_id, reason[:1000], attempts])
        await self.bus.execute(RecordNotificationFailed(event.aggregate_id, attempts,
                                                        reason[:1000]), self.actor,
                               correlation_id=event.correlation_id, causation_id=event.event_id)
        SENDS.labels(event.payload.get("channel", "?"), "failed").inc()
        return False
