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

Delivery is off the stream: `enqueue` (the consumer's part) only records each request in
the outbox (`notifications.outbox`, due now), so no channel — a webhook host that does not
resolve, an SMTP relay that hangs — can hold up the enrollments behind it in the stream.
`deliver_due` (the workflow worker's timers, one per channel, each with its own concurrency:
a slow webhook never delays an email) tries what is due; a transient failure (unreachable, a
5xx) pushes the row's due time out by exponential backoff with full jitter; past `attempts`
the receipt says failed and the request lands in the dead letters
(`notifications.dead_letters`), from which `redrive` schedules it again.

Webhook endpoints each have a circuit breaker (notifications/breaker.py, ADR 43) kept in
`notifications.webhook_endpoints`: while one is open its rows in the outbox wait untried,
and new requests for it are not put in the outbox at all: the endpoint's row remembers
from which store position requests were parked (one row per endpoint, however many), and
once a probe closes the circuit they are taken back into the outbox from the event store
(the truth), a batch per tick. An endpoint that keeps failing past `disable_after` is
disabled on the webhook registry (`webhooks.disabled`): no new request names it until an
admin enables it again. Every delivery re-checks the URL and connects only to an address
the check allowed (notifications/webhook_urls.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge
from psycopg_pool import AsyncConnectionPool

from commands.adapters.event_store import COLUMNS, StoredEvent
from commands.bus import CommandBus
from commands.domain.errors import SmartCourseError
from commands.messages import (
    Actor,
    DisableWebhook,
    RecordNotificationFailed,
    RecordNotificationSent,
)
from notifications import breaker
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
from smartcourse.observability import tracing

log = logging.getLogger("smartcourse.notifications")

REQUESTED = "notification.requested"
FINAL = frozenset({"notification.sent", "notification.failed", "notification.suppressed"})
SENDS = Counter("smartcourse_notifications_total", "Notifications handled, by outcome",
                ["channel", "outcome"])
PENDING = Gauge("smartcourse_notifications_pending",
                "Notifications in the outbox, waiting for their first or next delivery try")
CIRCUITS = Gauge("smartcourse_webhook_endpoints", "Webhook endpoints, by circuit state",
                 ["state"])
TRANSITIONS = Counter("smartcourse_webhook_circuit_transitions_total",
                      "Webhook circuit breaker state changes, by the state entered", ["state"])
PARKED = Counter("smartcourse_webhook_deliveries_parked_total",
                 "Webhook requests not put in the outbox because their endpoint's circuit "
                 "was open (taken back from the event store once it closes)")

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS notifications;
CREATE TABLE IF NOT EXISTS notifications.claims (
    notification_id uuid PRIMARY KEY,
    claimed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS notifications.outbox (
    notification_id uuid PRIMARY KEY,
    channel         text NOT NULL,
    attempts        int NOT NULL DEFAULT 0,  -- tries made so far
    due_at          timestamptz NOT NULL,    -- the next try; pushed ahead while one is leased
    last_error      text NOT NULL DEFAULT '',
    redriven        boolean NOT NULL DEFAULT false,
    trace_parent    text  -- the request's trace, which its sends continue
);
CREATE INDEX IF NOT EXISTS outbox_due ON notifications.outbox (channel, due_at);
ALTER TABLE notifications.outbox ADD COLUMN IF NOT EXISTS trace_parent text;
CREATE TABLE IF NOT EXISTS notifications.dead_letters (
    notification_id uuid PRIMARY KEY,
    reason          text NOT NULL,
    attempts        int NOT NULL,
    failed_at       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE notifications.dead_letters ADD COLUMN IF NOT EXISTS channel text NOT NULL
    DEFAULT 'email';
ALTER TABLE notifications.outbox ADD COLUMN IF NOT EXISTS endpoint uuid;  -- a webhook's id
ALTER TABLE notifications.dead_letters ADD COLUMN IF NOT EXISTS endpoint uuid;
CREATE INDEX IF NOT EXISTS outbox_endpoint ON notifications.outbox (endpoint, due_at)
    WHERE endpoint IS NOT NULL;
CREATE TABLE IF NOT EXISTS notifications.webhook_endpoints (
    webhook_id      uuid PRIMARY KEY,
    state           text NOT NULL DEFAULT 'CLOSED',  -- CLOSED | OPEN | HALF_OPEN | DISABLED
    failures        int NOT NULL DEFAULT 0,          -- in a row
    failing_since   timestamptz,
    retry_at        timestamptz,                     -- OPEN: the probe's time
    opened          int NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    last_failure_at timestamptz,
    last_success_at timestamptz,
    parked_from     bigint,                          -- requests parked from this position
    parked          bigint NOT NULL DEFAULT 0        -- how many (since parked_from)
);
"""

ENDPOINT_FIELDS = ("state", "failures", "failing_since", "retry_at", "opened", "last_error",
                   "last_failure_at", "last_success_at")


async def load_endpoint(conn: Any, webhook_id: UUID, lock: bool = False) -> breaker.Endpoint:
    await conn.execute("INSERT INTO notifications.webhook_endpoints (webhook_id) VALUES (%s)"
                       " ON CONFLICT DO NOTHING", [webhook_id])
    row = await (await conn.execute(
        f"SELECT {', '.join(ENDPOINT_FIELDS)} FROM notifications.webhook_endpoints"
        f" WHERE webhook_id = %s{' FOR UPDATE' if lock else ''}", [webhook_id])).fetchone()
    return breaker.Endpoint(*row)


async def save_endpoint(conn: Any, webhook_id: UUID, endpoint: breaker.Endpoint) -> None:
    await conn.execute(
        "UPDATE notifications.webhook_endpoints SET "
        + ", ".join(f"{name} = %({name})s" for name in ENDPOINT_FIELDS)
        + " WHERE webhook_id = %(id)s",
        {**{name: getattr(endpoint, name) for name in ENDPOINT_FIELDS}, "id": webhook_id})


async def endpoint_rows(conn: Any) -> dict[UUID, dict[str, Any]]:
    """Every endpoint's breaker state and parked count (for `GET /webhooks`)."""
    cur = await conn.execute(
        f"SELECT webhook_id, {', '.join(ENDPOINT_FIELDS)}, parked,"
        " (SELECT count(*) FROM notifications.outbox o WHERE o.endpoint = w.webhook_id)"
        " FROM notifications.webhook_endpoints w")
    return {row[0]: {**dict(zip(ENDPOINT_FIELDS, row[1:9], strict=True)),
                     "parked": row[9], "waiting": row[10]}
            for row in await cur.fetchall()}


async def enable_endpoint(conn: Any, webhook_id: UUID) -> None:
    """An admin enabled the webhook again: its circuit closes, counting from zero."""
    async with conn.transaction():
        endpoint = await load_endpoint(conn, webhook_id, lock=True)
        await save_endpoint(conn, webhook_id, breaker.enabled(endpoint))
    TRANSITIONS.labels(breaker.CLOSED).inc()



async def ensure_notification_schema(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('notifications'))")
        await conn.execute(SCHEMA)


@dataclass(frozen=True)
class DeadLetter:
    notification_id: UUID
    reason: str
    attempts: int
    failed_at: datetime


async def dead_letters(conn: Any, limit: int = 100) -> list[DeadLetter]:
    """The notifications that failed for good, oldest first."""
    rows = await (await conn.execute(
        "SELECT notification_id, reason, attempts, failed_at FROM notifications.dead_letters"
        " ORDER BY failed_at LIMIT %s", [limit])).fetchall()
    return [DeadLetter(*row) for row in rows]


async def redrive(conn: Any, notification_ids: Iterable[UUID] | None, now: datetime) -> int:
    """Schedule dead-lettered notifications (all, or those named) for another round of
    tries, due `now`; returns how many. The worker's delivery timers send them; one sent
    since is not sent again."""
    ids = list(notification_ids) if notification_ids is not None else None
    async with conn.transaction():
        moved = await (await conn.execute(
            "DELETE FROM notifications.dead_letters"
            " WHERE %(all)s OR notification_id = ANY(%(ids)s)"
            " RETURNING notification_id, channel, endpoint",
            {"all": ids is None, "ids": ids or []})).fetchall()
        for notification_id, channel, endpoint in moved:
            await conn.execute(
                "INSERT INTO notifications.outbox (notification_id, channel, due_at, redriven,"
                " endpoint) VALUES (%s, %s, %s, true, %s)"
                " ON CONFLICT (notification_id) DO UPDATE SET attempts = 0,"
                " due_at = EXCLUDED.due_at, redriven = true",
                [notification_id, channel, now, endpoint])
    return len(moved)


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
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    rng: random.Random = field(default_factory=random.Random)
    concurrency: int = 16  # tries at once, per channel
    # A try in flight is not taken by another worker for this long; a killed worker's rows
    # are tried again after it (a tick's tries take seconds: `limit` rows, 16 at a time).
    lease: timedelta = timedelta(seconds=30)
    circuit: breaker.BreakerPolicy = field(default_factory=breaker.BreakerPolicy)
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    async def handle_all(self, events: Iterable[StoredEvent],
                         traces: Mapping[UUID, str] | None = None) -> int:
        """The consumer's part: each request among `events` into the outbox, due now (a
        redelivered one is there already, or settled), with the traceparent its message
        carried (`traces`: event id -> traceparent); returns how many were new. A webhook
        request whose endpoint's circuit is not closed is parked instead (see the module)."""
        requests = [e for e in events if e.event_type == REQUESTED]
        if not requests:
            return 0
        traces = traces or {}
        endpoints: list[UUID | None] = []
        for e in requests:
            endpoints.append(await self._endpoint_of(e)
                             if e.payload.get("channel") == "webhook" else None)
        async with self.pool.connection() as conn:
            named = sorted({e for e in endpoints if e is not None})
            held = {row[0] for row in await (await conn.execute(
                "SELECT webhook_id FROM notifications.webhook_endpoints"
                " WHERE webhook_id = ANY(%s) AND state <> 'CLOSED'", [named])).fetchall()}
            if held:
                parked = [(e, hook) for e, hook in zip(requests, endpoints, strict=True)
                          if hook in held]
                for e, hook in parked:
                    await conn.execute(
                        "UPDATE notifications.webhook_endpoints SET parked = parked + 1,"
                        " parked_from = LEAST(COALESCE(parked_from, %s), %s)"
                        " WHERE webhook_id = %s", [e.position, e.position, hook])
                PARKED.inc(len(parked))
                kept = [(e, hook) for e, hook in zip(requests, endpoints, strict=True)
                        if hook not in held]
                requests, endpoints = [e for e, _ in kept], [hook for _, hook in kept]
            if not requests:
                return 0
            cur = await conn.execute(
                "INSERT INTO notifications.outbox (notification_id, channel, due_at,"
                " trace_parent, endpoint) SELECT * FROM unnest(%s::uuid[], %s::text[],"
                " %s::timestamptz[], %s::text[], %s::uuid[])"
                " ON CONFLICT (notification_id) DO NOTHING",
                [[e.aggregate_id for e in requests],
                 [str(e.payload.get("channel", "email")) for e in requests],
                 [self.clock()] * len(requests),
                 [traces.get(e.event_id) for e in requests], endpoints])
        return cur.rowcount

    async def _endpoint_of(self, event: StoredEvent) -> UUID | None:
        """The webhook a webhook request goes to (its variables are sealed)."""
        try:
            p = await self.bus.personal.open(event.event_type, event.aggregate_id,
                                             event.payload)
            hook = dict(p.get("variables") or {}).get("webhook_id")
            return UUID(str(hook)) if hook else None
        except ValueError:  # erased, or does not open: the delivery itself will say so
            return None

    async def deliver_due(self, now: datetime | None = None, channel: str | None = None,
                          limit: int = 48) -> int:
        """Try the notifications due at `now` (of one channel, or of each, concurrently);
        returns how many were sent. Each is leased (its due time pushed ahead) before it is
        tried, so a worker that dies mid-try leaves it to be tried again after the lease,
        and two workers never try the same one at once."""
        names = [channel] if channel is not None else list(self.channels)
        sent = await asyncio.gather(*(self._deliver(name, now or self.clock(), limit)
                                      for name in names))
        await self.pending()
        if "webhook" in names:
            await self.circuits()
        return sum(sent)

    async def _deliver(self, channel: str, now: datetime, limit: int) -> int:
        probes: list[UUID] = []
        if channel == "webhook":
            probes = await self._probes(now)
            await self._refill_closed(limit)
        async with self.pool.connection() as conn:
            # Rows of an endpoint whose circuit is not closed wait (its probe aside).
            rows = await (await conn.execute(
                "UPDATE notifications.outbox SET due_at = %s WHERE notification_id IN ("
                " SELECT notification_id FROM notifications.outbox o WHERE channel = %s"
                " AND due_at <= %s AND (endpoint IS NULL OR NOT EXISTS (SELECT 1 FROM"
                " notifications.webhook_endpoints w WHERE w.webhook_id = o.endpoint"
                " AND w.state <> 'CLOSED'))"
                " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING notification_id, redriven, trace_parent",
                [now + self.lease, channel, now, limit])).fetchall()
            if probes:
                rows += await (await conn.execute(
                    "SELECT notification_id, redriven, trace_parent FROM notifications.outbox"
                    " WHERE notification_id = ANY(%s)", [probes])).fetchall()
        requests = []
        for notification_id, redriven, traced in rows:
            history = await self.bus.store.load(notification_id)
            first = next((e for e in history if e.event_type == REQUESTED), None)
            if first is None:  # not in this store (a purged database): nothing to send
                await self._unschedule(notification_id)
                continue
            requests.append((first, redriven, traced))
        slots = self._slots.setdefault(channel, asyncio.Semaphore(self.concurrency))

        async def limited(event: StoredEvent, redriven: bool, traced: str | None) -> bool:
            async with slots:
                span = tracing.child_span(f"notify via {channel}", traced, SpanKind.PRODUCER,
                                          {"smartcourse.notification_id": str(event.aggregate_id)})
                with trace.use_span(span, end_on_exit=True) if span else nullcontext():
                    return await self.handle(event, redriven)

        return sum(await asyncio.gather(*(limited(e, r, t) for e, r, t in requests)))

    # -- webhook endpoints' circuits -------------------------------------------------------
    async def _probes(self, now: datetime) -> list[UUID]:
        """For each open endpoint past its cooldown, one waiting row leased as its probe
        (taken back from the parked requests if none waits); the endpoint goes HALF_OPEN."""
        leased: list[UUID] = []
        async with self.pool.connection() as conn:
            due = [row[0] for row in await (await conn.execute(
                "SELECT webhook_id FROM notifications.webhook_endpoints"
                " WHERE state IN ('OPEN', 'HALF_OPEN') AND retry_at <= %s", [now])).fetchall()]
        for hook in due:
            async with self.pool.connection() as conn:
                row = await self._probe_row(conn, hook, now)
                if row is None and await self._refill(hook, 1):
                    row = await self._probe_row(conn, hook, now)
                async with conn.transaction():
                    endpoint = await load_endpoint(conn, hook, lock=True)
                    if breaker.admits(endpoint, now) != "probe":
                        continue  # another worker took it
                    if row is None:  # nothing to probe with: look again after a cooldown
                        await save_endpoint(conn, hook, replace(
                            endpoint, retry_at=now + self.circuit.cooldown))
                        continue
                    await save_endpoint(conn, hook, breaker.probing(endpoint, now, self.lease))
                    await conn.execute("UPDATE notifications.outbox SET due_at = %s"
                                       " WHERE notification_id = %s", [now + self.lease, row])
            TRANSITIONS.labels(breaker.HALF_OPEN).inc()
            leased.append(row)
        return leased

    async def _probe_row(self, conn: Any, hook: UUID, now: datetime) -> UUID | None:
        found = await (await conn.execute(
            "SELECT notification_id FROM notifications.outbox WHERE endpoint = %s"
            " ORDER BY due_at LIMIT 1", [hook])).fetchone()
        return found[0] if found else None

    async def _refill_closed(self, limit: int) -> None:
        async with self.pool.connection() as conn:
            hooks = [row[0] for row in await (await conn.execute(
                "SELECT webhook_id FROM notifications.webhook_endpoints"
                " WHERE state = 'CLOSED' AND parked_from IS NOT NULL")).fetchall()]
        for hook in hooks:
            await self._refill(hook, limit)

    async def _refill(self, hook: UUID, limit: int, scan: int = 500) -> int:
        """Up to `limit` of the endpoint's parked requests back into the outbox, read from
        the event store from the endpoint's `parked_from` on; returns how many."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT parked_from, parked FROM notifications.webhook_endpoints"
                " WHERE webhook_id = %s", [hook])).fetchone()
            if row is None or row[0] is None:
                return 0
            since, parked = row
            events = [StoredEvent(*r) for r in await (await conn.execute(
                f"SELECT {COLUMNS} FROM event_store.events WHERE position >= %s"
                " AND event_type = %s AND payload->>'channel' = 'webhook'"
                " ORDER BY position LIMIT %s", [since, REQUESTED, scan])).fetchall()]
        mine: list[StoredEvent] = []
        cursor = since
        for event in events:
            cursor = event.position + 1
            if await self._endpoint_of(event) == hook:
                mine.append(event)
                if len(mine) == limit:
                    break
        at_end = len(events) < scan and (not events or cursor > events[-1].position)
        async with self.pool.connection() as conn, conn.transaction():
            if mine:
                await conn.execute(
                    "INSERT INTO notifications.outbox (notification_id, channel, due_at,"
                    " endpoint) SELECT n, 'webhook', %s, %s FROM unnest(%s::uuid[]) AS n"
                    " ON CONFLICT (notification_id) DO NOTHING",
                    [self.clock(), hook, [e.aggregate_id for e in mine]])
            done = at_end and (await conn.execute(
                "UPDATE notifications.webhook_endpoints SET parked_from = NULL, parked = 0"
                " WHERE webhook_id = %s AND parked = %s", [hook, parked])).rowcount == 1
            if not done:  # more to read (or parked since, after `cursor`: read them next)
                await conn.execute("UPDATE notifications.webhook_endpoints SET parked_from"
                                   " = %s WHERE webhook_id = %s", [cursor, hook])
        return len(mine)

    async def _endpoint_result(self, event: StoredEvent, hook: UUID, error: str | None) -> None:
        """A delivery to the endpoint succeeded (`error` None) or failed: its circuit."""
        now = self.clock()
        async with self.pool.connection() as conn, conn.transaction():
            before = await load_endpoint(conn, hook, lock=True)
            after = (breaker.succeeded(before, now) if error is None
                     else breaker.failed(before, error, now, self.circuit))
            await save_endpoint(conn, hook, after)
        if after.state != before.state:
            TRANSITIONS.labels(after.state).inc()
            log.warning("webhook circuit %s", after.state.lower(), extra={
                "webhook_id": str(hook), "failures": after.failures, "error": error})
        if after.state == breaker.DISABLED and before.state != breaker.DISABLED:
            await self._disable(event, hook, after)

    async def _disable(self, event: StoredEvent, hook: UUID, after: breaker.Endpoint) -> None:
        try:
            await self.bus.execute(
                DisableWebhook(hook, f"failed {after.failures} times in a row since "
                                     f"{after.failing_since:%Y-%m-%d %H:%M} UTC: "
                                     f"{after.last_error}"[:1000]),
                self.actor, correlation_id=event.correlation_id, causation_id=event.event_id)
        except SmartCourseError as refusal:  # removed meanwhile: nothing left to disable
            log.warning("webhook not disabled", extra={"webhook_id": str(hook),
                                                       "code": refusal.code})

    async def circuits(self) -> dict[str, int]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT state, count(*) FROM notifications.webhook_endpoints"
                " GROUP BY state")).fetchall()
        counts = {state: 0 for state in (breaker.CLOSED, breaker.OPEN, breaker.HALF_OPEN,
                                         breaker.DISABLED)} | dict(rows)
        for state, count in counts.items():
            CIRCUITS.labels(state).set(count)
        return counts

    async def pending(self) -> int:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT count(*) FROM notifications.outbox")).fetchone()
        PENDING.set(row[0])
        return int(row[0])

    async def redrive(self, notification_ids: Iterable[UUID] | None = None) -> int:
        async with self.pool.connection() as conn:
            return await redrive(conn, notification_ids, self.clock())

    async def _attempts_so_far(self, notification_id: UUID) -> int:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT attempts FROM notifications.outbox WHERE notification_id = %s",
                [notification_id])).fetchone()
        return row[0] if row else 0

    async def _schedule(self, event: StoredEvent, attempt: int, error: str) -> None:
        delay = self.retry.delay(attempt, self.rng)
        log.warning("notification not delivered; retry scheduled", extra={
            "notification_id": str(event.aggregate_id), "attempt": attempt,
            "delay": round(delay, 2), "error": error})
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE notifications.outbox SET attempts = %s, due_at = %s, last_error = %s"
                " WHERE notification_id = %s",
                [attempt, self.clock() + timedelta(seconds=delay), error[:1000],
                 event.aggregate_id])

    async def _unschedule(self, notification_id: UUID) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM notifications.outbox WHERE notification_id = %s",
                               [notification_id])

    async def _claim(self, notification_id: UUID) -> bool:
        """Record that a send begins; False if an earlier run had begun it already."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO notifications.claims (notification_id) VALUES (%s)"
                " ON CONFLICT DO NOTHING", [notification_id])
            return cur.rowcount == 1

    async def handle(self, event: StoredEvent, redriven: bool = False) -> bool:
        """Try one requested notification unless it was settled already (a redriven one may
        follow its `failed`); True if sent now."""
        history = await self.bus.store.load(event.aggregate_id)
        settled = FINAL - {"notification.failed"} if redriven else FINAL
        if any(e.event_type in settled for e in history):
            SENDS.labels(event.payload.get("channel", "?"), "duplicate").inc()
            await self._unschedule(event.aggregate_id)
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
        hook = None
        if "webhook_id" in variables:
            headers[WEBHOOK_HEADER] = variables["webhook_id"]
            hook = UUID(variables["webhook_id"]) if p["channel"] == "webhook" else None
        outgoing = Outgoing(str(event.aggregate_id), p["address"], message, unsubscribe,
                            headers)
        attempt = await self._attempts_so_far(event.aggregate_id) + 1
        try:
            if not await self._claim(event.aggregate_id):
                # An earlier try began (and may have delivered): ask before sending again.
                confirm = getattr(channel, "confirm", None)
                delivered = await confirm(outgoing) if confirm is not None else None
                if delivered is not None:
                    SENDS.labels(channel.name, "confirmed").inc()
                    await self._sent(event, attempt, delivered)
                    return True
            provider_id = await channel.send(outgoing)
        except Undeliverable as error:
            if hook is not None:
                await self._endpoint_result(event, hook, str(error))
            return await self._failed(event, attempt, str(error))
        except DeliveryFailed as error:
            if hook is not None:
                await self._endpoint_result(event, hook, str(error))
            if attempt >= self.retry.attempts:
                return await self._failed(event, attempt, str(error))
            SENDS.labels(channel.name, "retry_scheduled").inc()
            await self._schedule(event, attempt, str(error))
            return False
        if hook is not None:
            await self._endpoint_result(event, hook, None)
        await self._sent(event, attempt, provider_id)
        SENDS.labels(channel.name, "sent").inc()
        return True

    async def _sent(self, event: StoredEvent, attempts: int, provider_id: str) -> None:
        await self.bus.execute(RecordNotificationSent(event.aggregate_id, attempts,
                                                      provider_id), self.actor,
                               correlation_id=event.correlation_id, causation_id=event.event_id)
        await self._unschedule(event.aggregate_id)

    async def _failed(self, event: StoredEvent, attempts: int, reason: str) -> bool:
        log.error("notification failed", extra={"notification_id": str(event.aggregate_id),
                                                "attempts": attempts, "reason": reason})
        async with self.pool.connection() as conn, conn.transaction():
            gone = await (await conn.execute(
                "DELETE FROM notifications.outbox WHERE notification_id = %s"
                " RETURNING endpoint", [event.aggregate_id])).fetchone()
            await conn.execute(
                "INSERT INTO notifications.dead_letters (notification_id, reason, attempts,"
                " channel, endpoint) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (notification_id)"
                " DO UPDATE SET reason = EXCLUDED.reason, attempts = EXCLUDED.attempts,"
                " failed_at = now()",
                [event.aggregate_id, reason[:1000], attempts,
                 str(event.payload.get("channel", "email")), gone[0] if gone else None])
        await self.bus.execute(RecordNotificationFailed(event.aggregate_id, attempts,
                                                        reason[:1000]), self.actor,
                               correlation_id=event.correlation_id, causation_id=event.event_id)
        SENDS.labels(event.payload.get("channel", "?"), "failed").inc()
        return False
