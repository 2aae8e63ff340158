"""The enrollment workflow's and the notification sender's agent, and the reminder timer.

Declared only with SMARTCOURSE_WORKFLOW_ENROLLMENT=1 and/or SMARTCOURSE_WORKER_NOTIFICATIONS=1
(settings.workflow_enrollment, settings.worker_notifications): the supervised
`workflow-worker` runs both under a consumer group of its own, so neither the projections
nor the command API wait for SMTP or for the workflow's commands; the batch only puts
notifications into the outbox, and a timer per channel delivers them (one unreachable
webhook once stalled every enrollment behind it); test workers leave them
off (they would act on other tests' events). A batch is acknowledged after it was handled:
a worker killed mid-batch gets it again and every step is idempotent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import faust
import psycopg
from confluent_kafka.schema_registry.error import SchemaRegistryError

from commands.adapters.avro_contracts import EventDecoder, registry_client
from projections.deliveries import EventDelivery
from smartcourse.observability import tracing
from streams.app import app, settings
from streams.decoding import SharedDecoder, Undecodable

log = logging.getLogger("smartcourse.workflows.enrollment")

EX_SOFTWARE = 70
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, SchemaRegistryError, OSError)
MAX_BACKOFF = 30.0
decode = SharedDecoder(lambda: EventDecoder(registry_client(settings.registry_url)))
_processes: Any = None
_opened = asyncio.Lock()


async def processes() -> Any:
    global _processes
    async with _opened:
        if _processes is None:
            from notifications.wiring import open_processes

            _processes = await app_resources.enter_async_context(open_processes(settings))
    return _processes


app_resources = AsyncExitStack()  # closed with the process


async def handle(messages: list[Any]) -> None:
    events = []
    traces: dict[Any, str] = {}  # event id -> the traceparent its message carries
    for message in messages:
        decoded = decode(message)
        if isinstance(decoded, Undecodable):
            log.error("undecodable message; the projections dead-letter it",
                      extra={"topic": decoded.topic, "offset": decoded.offset})
        elif isinstance(decoded, EventDelivery):
            events.append(decoded.event)
            if (header := tracing.header_value(message.headers)) is not None:
                traces[decoded.event.event_id] = header.decode()
    if not events:
        return
    found = await processes()
    if settings.workflow_enrollment:
        await found.workflow.handle_all(events, traces)
    if settings.worker_notifications:
        await found.sender.handle_all(events, traces)


async def run_enrollment(stream: faust.StreamT) -> None:
    try:
        async for events in stream.noack_take(500, within=0.2):
            for attempt in itertools.count(1):
                try:
                    await handle([event.message for event in events])
                    break
                except TRANSIENT as error:
                    delay = min(MAX_BACKOFF, 0.5 * 2 ** min(attempt, 10))
                    log.warning("enrollment workflow interrupted by an outage; retrying",
                                exc_info=error, extra={"attempt": attempt, "delay": delay})
                    await asyncio.sleep(delay)
            for event in events:
                await stream.ack(event)
    except Exception as error:  # noqa: BLE001 - a skipped event would strand an enrollment
        log.critical("enrollment workflow failed; the worker exits so that the batch is "
                     "redelivered", exc_info=error)
        os._exit(EX_SOFTWARE)


async def fire_reminders() -> None:
    found = await processes()
    fired = await found.workflow.fire_due(datetime.now(UTC))
    if fired:
        log.info("reminders fired", extra={"count": fired})


if settings.workflow_enrollment or settings.worker_notifications:
    prefix = settings.worker_topic_prefix
    # The course topic for `course.start_date_changed` (the starting-soon reminders move).
    topics = app.topic(f"{prefix}.enrollment", f"{prefix}.certificate", f"{prefix}.notification",
                       f"{prefix}.course",
                       key_serializer="raw", value_serializer="raw", allow_empty=True)
    enrollment_agent = app.agent(topics, name="workflow.enrollment")(run_enrollment)
if settings.workflow_enrollment:
    app.timer(settings.reminder_poll_seconds, name="workflow.reminders")(fire_reminders)


def deliverer(channel: str) -> Any:
    async def deliver_notifications() -> None:
        """The outbox's due notifications of one channel, off the stream: a slow or failing
        channel holds up neither the batch nor the other channels."""
        found = await processes()
        sent = await found.sender.deliver_due(channel=channel)
        if sent:
            log.info("notifications delivered", extra={"channel": channel, "count": sent})
    return deliver_notifications


if settings.worker_notifications:
    for _channel in ("email", "webhook"):  # notifications/wiring.py's channels
        app.timer(settings.notification_poll_seconds,
                  name=f"notifications.deliver.{_channel}")(deliverer(_channel))


async def reconcile_stores() -> None:
    """The scheduled reconciliation: drift is reported (log, metric), not repaired here;
    `smartcourse reconcile --repair` repairs."""
    from projections.reconcile import reconcile

    report = await reconcile(settings)
    log.log(logging.WARNING if report.total else logging.INFO, "reconciliation",
            extra={"drift": report.total, "checked": report.checked})


if settings.workflow_enrollment and settings.reconcile_interval_seconds > 0:
    app.timer(settings.reconcile_interval_seconds, name="workflow.reconcile")(reconcile_stores)
