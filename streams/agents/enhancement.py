"""The regenerator's agent (docs/adr/0042): course events in; a lesson edit outdates its
study-material draft, which is generated again from the new text.

`run_regeneration` is the behaviour as a plain async function over decoded deliveries; the
agent decodes, runs it and acknowledges a batch only once handled. A redelivered event is
harmless: each draft records the position of the lesson event it reacted to with its own
writes (the consumer's checkpoint), and a generation already made from a text is not made
again. Declared only with SMARTCOURSE_WORKFLOW_ENHANCEMENT=1 (the supervised workflow-worker;
test workers leave it off).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import faust
import psycopg
from confluent_kafka.schema_registry.error import SchemaRegistryError
from prometheus_client import Counter

from assistant.enhancements import Regenerator
from commands.adapters.avro_contracts import EventDecoder, registry_client
from projections.deliveries import EventDelivery
from smartcourse.settings import Settings
from streams.app import app, settings
from streams.decoding import Decoded, SharedDecoder, Undecodable

log = logging.getLogger("smartcourse.workflows.enhancement")

EX_SOFTWARE = 70
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, SchemaRegistryError, OSError)
MAX_BACKOFF = 30.0
OUTCOMES = Counter("smartcourse_enhancement_regenerations_total",
                   "Lesson events the study-material regenerator handled, by outcome",
                   ["outcome"])


async def run_regeneration(deliveries: Iterable[Decoded], regenerator: Regenerator) -> int:
    """Handle the lesson events among `deliveries`, in order; returns how many acted."""
    acted = 0
    for delivery in deliveries:
        if isinstance(delivery, Undecodable):
            log.error("undecodable course message; the projections dead-letter it", extra={
                "topic": delivery.topic, "offset": delivery.offset})
            continue
        if not isinstance(delivery, EventDelivery):
            continue
        if delivery.event.event_type not in Regenerator.KINDS:
            continue
        outcome = await regenerator.handle(delivery.event)
        OUTCOMES.labels(outcome).inc()
        acted += outcome not in ("ignored", "unchanged")
    return acted


@asynccontextmanager
async def open_regenerator(config: Settings) -> AsyncIterator[Regenerator]:
    from assistant.providers.factory import build_chain
    from smartcourse.bootstrap import open_write_side

    side = await open_write_side(config)
    try:
        yield Regenerator(side.bus, build_chain(config))
    finally:
        await side.close()


decode = SharedDecoder(lambda: EventDecoder(registry_client(settings.registry_url)))


async def regenerate_drafts(stream: faust.StreamT) -> None:
    async with AsyncExitStack() as resources:
        regenerator: Regenerator | None = None
        try:
            async for events in stream.noack_take(100, within=0.5):
                decoded = [decode(event.message) for event in events]
                if regenerator is None and any(
                        isinstance(d, EventDelivery) and d.event.event_type in Regenerator.KINDS
                        for d in decoded):
                    regenerator = await resources.enter_async_context(
                        open_regenerator(settings))
                if regenerator is not None:
                    await _until_done(decoded, regenerator)
                for event in events:
                    await stream.ack(event)
        except Exception as error:  # noqa: BLE001 - a skipped edit would leave a draft stale
            log.critical("study-material regeneration failed; the worker exits so that the "
                         "batch is redelivered", exc_info=error)
            os._exit(EX_SOFTWARE)


async def _until_done(decoded: list[Decoded], regenerator: Regenerator) -> None:
    """An outage is waited out: handling is idempotent, so the batch is simply run again."""
    for attempt in itertools.count(1):
        try:
            await run_regeneration(decoded, regenerator)
            return
        except TRANSIENT as error:
            delay = min(MAX_BACKOFF, 0.5 * 2 ** min(attempt, 10))
            log.warning("regeneration interrupted by an outage; retrying", exc_info=error,
                        extra={"attempt": attempt, "delay": delay})
            await asyncio.sleep(delay)


def _declare() -> Any:
    topic = app.topic(f"{settings.worker_topic_prefix}.course", key_serializer="raw",
                      value_serializer="raw", allow_empty=True)
    return app.agent(topic, name="workflow.enhancement")(regenerate_drafts)


if settings.workflow_enhancement:
    enhancement_agent = _declare()
