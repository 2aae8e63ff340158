"""The analytics agent: every domain event into ClickHouse, one insert per batch.

`noack_take(analytics_batch_rows, within=analytics_batch_seconds)` does the buffering (about an
insert a second at steady state, large ones under load). A batch's messages are acked only
after `AnalyticsFeed.handle_batch` returned for it, i.e. after ClickHouse acknowledged its rows
and its checkpoint, so committed offsets never run ahead of ClickHouse; redelivery is harmless
(the tables are idempotent on event id). One insert is in flight while the next batch is taken
and decoded, and batches are inserted (and checkpointed) in order.

A message that cannot be decoded is dead-lettered by the PostgreSQL projections' agents, which
read the same topics; here it is logged and counted, and `smartcourse analytics rebuild`
restores its event from the store. Declared unless SMARTCOURSE_WORKER_ANALYTICS=0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import faust
from clickhouse_connect.driver.exceptions import OperationalError
from confluent_kafka.schema_registry.error import SchemaRegistryError
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge, Histogram

from projections.analytics.live import AnalyticsFeed
from projections.deliveries import EventDelivery, WatermarkDelivery
from smartcourse.observability import tracing
from streams.agents.projections import decode
from streams.app import app, settings
from streams.decoding import Undecodable
from streams.runner import RetryPolicy
from streams.topics import domain_topic_names

log = logging.getLogger("smartcourse.worker")

T = TypeVar("T")
EX_SOFTWARE = 70
STOP_GRACE = 10.0  # seconds an insert in flight may take to finish when stopping
TRANSIENT = (OperationalError, SchemaRegistryError, OSError)
UNDECODABLE = Counter("smartcourse_analytics_undecodable_total",
                      "Messages the analytics agent could not decode (dead-lettered elsewhere)")

INSERTED = Counter("smartcourse_analytics_events_total",
                   "Events (and watermark markers) handed to ClickHouse and acknowledged",
                   ["kind"])
BATCH_SECONDS = Histogram("smartcourse_analytics_batch_seconds",
                          "One batch's insert and checkpoint in ClickHouse",
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
POSITION = Gauge("smartcourse_analytics_position",
                 "Highest global position (event or watermark) ClickHouse acknowledged")
EVENT_AGE = Gauge("smartcourse_analytics_event_age_seconds",
                  "At the last insert: how old its newest event was (occurred-at to insert)")
feed = AnalyticsFeed(settings)
retry = RetryPolicy()
topic = app.topic(*domain_topic_names(), key_serializer="raw", value_serializer="raw",
                  allow_empty=True)
Batch = list[EventDelivery | WatermarkDelivery]


async def _retrying(step: Callable[[], Awaitable[T]], what: str, size: int) -> T:
    """The same step again after a failure until it succeeds: a batch is never skipped."""
    attempt = unexpected = 0
    while True:
        attempt += 1
        try:
            return await step()
        except TRANSIENT as error:
            reason: BaseException = error
        except Exception as error:  # noqa: BLE001 - counted, then fatal
            unexpected += 1
            if unexpected >= retry.unexpected_attempts:
                log.critical(f"analytics: cannot {what} a batch; the worker exits",
                             exc_info=error)
                os._exit(EX_SOFTWARE)
            reason = error
        log.warning(f"analytics: {what} failed; trying again", exc_info=reason,
                    extra={"attempt": attempt, "messages": size})
        await asyncio.sleep(retry.backoff(attempt))


async def _decode(messages: Sequence[faust.types.Message]) -> Batch:
    decoded = [decode(m) for m in messages]
    for poison in (d for d in decoded if isinstance(d, Undecodable)):
        UNDECODABLE.inc()
        log.error("analytics: undecodable message skipped", extra={
            "topic": poison.topic, "partition": poison.partition, "offset": poison.offset,
            "error": poison.error})
    return [d for d in decoded if not isinstance(d, Undecodable)]


async def _insert(batch: Batch, messages: Sequence[faust.types.Message] = ()) -> None:
    started, started_ns = time.perf_counter(), time.time_ns()
    await _retrying(lambda: asyncio.to_thread(feed.handle_batch, batch), "insert", len(batch))
    BATCH_SECONDS.observe(time.perf_counter() - started)
    observe_batch(batch, time.time())
    if tracing.enabled():
        _trace(messages, started_ns)


def _trace(messages: Sequence[faust.types.Message], started_ns: int) -> None:
    """A span per traced message in its command's trace, from the insert's start to its
    acknowledgement (the batch is one insert)."""
    ended = time.time_ns()
    for message in messages:
        span = tracing.child_span("analytics insert", tracing.header_value(message.headers),
                                  SpanKind.CONSUMER, {
                                      "messaging.destination.name": message.topic,
                                      "smartcourse.batch_size": len(messages)},
                                  start_time=started_ns)
        if span is not None:
            span.end(end_time=ended)


def observe_batch(batch: Batch, now: float) -> None:
    """The analytics worker's progress after an acknowledged batch: counts, position, age."""
    events = [d.event for d in batch if isinstance(d, EventDelivery)]
    INSERTED.labels("event").inc(len(events))
    INSERTED.labels("watermark").inc(len(batch) - len(events))
    positions = [d.position if isinstance(d, WatermarkDelivery) else d.event.position
                 for d in batch]
    if positions:
        POSITION.set(max(positions))
    if events:
        EVENT_AGE.set(max(0.0, now - max(_epoch(e.occurred_at) for e in events)))


def _epoch(occurred_at: Any) -> float:
    return occurred_at.timestamp() if hasattr(occurred_at, "timestamp") else float(occurred_at)


async def feed_clickhouse(stream: faust.StreamT) -> None:
    inflight: tuple[asyncio.Task[None], list[faust.types.EventT]] | None = None
    try:
        async for events in stream.noack_take(settings.analytics_batch_rows,
                                              within=settings.analytics_batch_seconds):
            messages = [event.message for event in events]
            batch = await _retrying(lambda m=messages: _decode(m), "decode", len(messages))
            if inflight is not None:
                await inflight[0]
                for event in inflight[1]:
                    await stream.ack(event)
            inflight = (asyncio.create_task(_insert(batch, messages)), events)
        if inflight is not None:
            await inflight[0]
            for event in inflight[1]:
                await stream.ack(event)
            inflight = None
    finally:
        if inflight is not None:  # stopping: left unacked, so it comes again; let the insert
            await asyncio.wait([inflight[0]], timeout=STOP_GRACE)  # end before the client
            inflight[0].cancel()
        await asyncio.to_thread(feed.close)


# SMARTCOURSE_WORKER_ANALYTICS=0 leaves ClickHouse out of a worker.
analytics: faust.types.AgentT | None = (
    app.agent(topic, name="analytics.clickhouse")(feed_clickhouse)
    if settings.worker_analytics else None)
