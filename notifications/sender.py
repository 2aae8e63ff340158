"""The notification service's consumer: `notification.requested` in, a message out, and a
receipt (`notification.sent` / `notification.failed`) back into the event store.

Deduplication: before sending, the notification's own history is read from the event store;
one already SENT, FAILED or SUPPRESSED is not sent again, so a redelivered request (a
restarted worker, a replay) never sends twice. The window left is a crash between the SMTP
transaction and the receipt's commit; the Message-ID derives from the notification id, so a
receiver can drop that duplicate.

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
from notifications.channels import Channel, DeliveryFailed, Outgoing, Undeliverable
from notifications.links import unsubscribe_token
from notifications.rendering import render

log = logging.getLogger("smartcourse.notifications")

REQUESTED = "notification.requested"
FINAL = frozenset({"notification.sent", "notification.failed", "notification.suppressed"})
SENDS = Counter("smartcourse_notifications_total", "Notifications handled, by outcome",
                ["channel", "outcome"])

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS notifications;
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

    async def handle_all(self, events: Iterable[StoredEvent]) -> int:
        requests = [e for e in events if e.event_type == REQUESTED]
        results = await asyncio.gather(*(self.handle(e) for e in requests))
        return sum(results)

    async def handle(self, event: StoredEvent) -> bool:
        """Send one requested notification unless it was settled already; True if sent."""
        history = await self.bus.store.load(event.aggregate_id)
        if any(e.event_type in FINAL for e in history):
            SENDS.labels(event.payload.get("channel", "?"), "duplicate").inc()
            return False
        p = event.payload
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
        outgoing = Outgoing(str(event.aggregate_id), p["address"], message, unsubscribe,
                            {"X-SmartCourse-Template": p["template"]})
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
            await self.bus.execute(RecordNotificationSent(event.aggregate_id, attempt,
                                                          provider_id), self.actor,
                                   correlation_id=event.correlation_id,
                                   causation_id=event.event_id)
            SENDS.labels(channel.name, "sent").inc()
            return True
        raise AssertionError("unreachable")

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
