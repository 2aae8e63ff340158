"""The publishing workflow's agent: course events in, one workflow run per course.published.

`run_publishing` is the whole behaviour as a plain async function over decoded deliveries
(tests and one-off runs feed it events from the store); the Faust agent below only decodes
and acknowledges. A message is acked after its run finished, so a worker killed mid-run gets
the course.published again, and the run restarts idempotently (cached vectors, upserts by
deterministic ids, idempotent commands). Embedding runs on a worker thread: the event loop,
and the worker's other agents, keep flowing meanwhile. Runs are sequential per agent, which
keeps one course's versions in publishing order.

The agent is declared only with SMARTCOURSE_WORKFLOW_PUBLISHING=1 (settings.workflow_publishing).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import faust
import psycopg
from confluent_kafka.schema_registry.error import SchemaRegistryError
from prometheus_client import Counter

from commands.adapters.avro_contracts import EventDecoder, registry_client
from projections.deliveries import EventDelivery
from smartcourse.observability import tracing
from streams.app import app, settings
from streams.decoding import Decoded, SharedDecoder, Undecodable
from streams.workflows.runner import PUBLISHED, PublishingWorkflow
from streams.workflows.wiring import open_publishing

log = logging.getLogger("smartcourse.workflows.publishing")

EX_SOFTWARE = 70  # as the projection agents: a message that cannot be handled stops the worker
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, SchemaRegistryError, OSError)
MAX_BACKOFF = 30.0
RUNS = Counter("smartcourse_workflow_runs_total", "Publishing workflow runs, by final state",
               ["state"])
UNDECODABLE = Counter("smartcourse_workflow_undecodable_total",
                      "Course-topic messages the publishing agent could not decode (the "
                      "projections' dead-letter topic holds them)")


async def run_publishing(deliveries: AsyncIterable[Decoded | EventDelivery],
                         workflow: PublishingWorkflow,
                         traces: Mapping[Any, bytes] | None = None) -> int:
    """Run the workflow for every course.published among `deliveries`; returns how many.
    `traces`: event id -> the traceparent its message carried (the run joins that trace)."""
    traces = traces or {}
    runs = 0
    async for delivery in deliveries:
        if isinstance(delivery, Undecodable):
            UNDECODABLE.inc()
            log.error("undecodable course message; the projections dead-letter it", extra={
                "topic": delivery.topic, "partition": delivery.partition,
                "offset": delivery.offset, "error": delivery.error})
            continue
        if not isinstance(delivery, EventDelivery) or delivery.event.event_type != PUBLISHED:
            continue  # watermarks and the course's other events
        state = await workflow.handle(delivery.event, traces.get(delivery.event.event_id))
        if state is not None:
            RUNS.labels(state.state).inc()
        runs += 1
    return runs


async def _each(items: Iterable[Decoded]) -> AsyncIterator[Decoded]:
    for item in items:
        yield item


def _decoder() -> EventDecoder:
    return EventDecoder(registry_client(settings.registry_url))


decode = SharedDecoder(_decoder)


class _Batches:
    """Decodes a batch and runs the workflow over it; the adapters are opened at the first
    course.published only (a worker that never sees one never loads the model)."""

    def __init__(self, resources: AsyncExitStack) -> None:
        self.resources = resources
        self.workflow: PublishingWorkflow | None = None

    async def handle(self, messages: list[Any]) -> None:
        decoded = [decode(message) for message in messages]
        traces = {d.event.event_id: header for d, message in zip(decoded, messages, strict=True)
                  if isinstance(d, EventDelivery)
                  and (header := tracing.header_value(message.headers)) is not None}
        if self.workflow is None and any(
                isinstance(d, EventDelivery) and d.event.event_type == PUBLISHED
                for d in decoded):
            self.workflow = await self.resources.enter_async_context(open_publishing(settings))
        if self.workflow is not None:
            await run_publishing(_each(decoded), self.workflow, traces)

    async def handle_until_done(self, messages: list[Any]) -> None:
        """An outage (PostgreSQL, the registry) is waited out: runs are idempotent, so the
        same messages are simply handled again."""
        for attempt in itertools.count(1):
            try:
                return await self.handle(messages)
            except TRANSIENT as error:
                delay = min(MAX_BACKOFF, 0.5 * 2 ** min(attempt, 10))
                log.warning("publishing interrupted by an outage; retrying", exc_info=error,
                            extra={"attempt": attempt, "delay": delay})
                await asyncio.sleep(delay)


async def publish_courses(stream: faust.StreamT) -> None:
    """The Faust agent: acks a batch only after its runs finished."""
    async with AsyncExitStack() as resources:
        batches = _Batches(resources)
        try:
            async for events in stream.noack_take(100, within=0.5):
                await batches.handle_until_done([event.message for event in events])
                for event in events:
                    await stream.ack(event)
        except Exception as error:  # noqa: BLE001 - skipping a publish would strand the course
            log.critical("publishing run failed; the worker exits so that the event is "
                         "redelivered", exc_info=error)
            os._exit(EX_SOFTWARE)


if settings.workflow_publishing:
    course_topic = app.topic(f"{settings.worker_topic_prefix}.course", key_serializer="raw",
                             value_serializer="raw", allow_empty=True)
    publishing_agent = app.agent(course_topic, name="workflow.publishing")(publish_courses)
