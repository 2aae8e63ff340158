"""Feeds one projection from Kafka: decode a batch, apply it through the sink, record its dead
letters, all in one PostgreSQL transaction; then publish the letters and let Faust ack.

Why the agent may ack after `handle` returns: by then the rows, the applied versions, the
partition positions and the dead letters are committed together, so a crash before the
Kafka offset commit only redelivers what the version rule skips (and the dead letters'
source index finds). A failure that is not a message's fault (PostgreSQL or the registry
unreachable, a deadlock) retries the whole batch until it succeeds; an unexpected one is
retried a few times and then stops the worker, since a batch may never be skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import psycopg
from aiokafka.errors import KafkaError
from confluent_kafka.schema_registry.error import SchemaRegistryError
from opentelemetry.trace import SpanKind
from psycopg import AsyncConnection

from projections.base import Projection
from projections.deliveries import UNDECODABLE, EventDelivery, WatermarkDelivery
from projections.sink import PostgresProjector
from smartcourse.observability import tracing
from streams import dead_letters, metrics
from streams.dead_letters import Letter
from streams.decoding import Decoded, Message, Undecodable

log = logging.getLogger("smartcourse.worker")

# Not the batch's fault (PostgreSQL, the registry or Kafka unreachable, a deadlock): wait and
# try the same batch again, for as long as it takes.
TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError, psycopg.InterfaceError, SchemaRegistryError, KafkaError, OSError)


Publish = Callable[[Sequence[Letter]], Awaitable[None]]


class WorkerFailed(RuntimeError):
    """A batch kept failing for a reason that is not transient: the worker must stop."""


@dataclass
class Outcome:
    """What one batch did, for logs, metrics and tests."""

    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    letters: list[Letter] = field(default_factory=list)


@dataclass
class RetryPolicy:
    """How long a failing batch waits before its next try, and when to give up on a bug."""

    first_backoff: float = 0.1
    max_backoff: float = 10.0
    unexpected_attempts: int = 5  # then WorkerFailed

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.first_backoff * 2 ** (attempt - 1))


class ProjectionRunner:
    """One projection's batches, on one autocommit connection opened on first use."""

    def __init__(self, projection: Projection, dsn: str, decode: Callable[[Message], Decoded],
                 publish: Publish, retry: RetryPolicy | None = None) -> None:
        self.projection = projection
        self.projector = PostgresProjector(projection)
        self._dsn = dsn
        self._decode = decode
        self._publish = publish
        self._retry = retry or RetryPolicy()
        self._conn: AsyncConnection | None = None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def handle(self, messages: Sequence[Message]) -> Outcome:
        """Apply the batch; returns only once it is committed and its letters published."""
        attempt = unexpected = 0
        while True:
            attempt += 1
            try:
                return await self._handle_once(messages)
            except asyncio.CancelledError:  # the worker stops: the batch was not acked
                await self.close()  # a transaction cut short leaves no usable connection
                raise
            except TRANSIENT as error:
                reason = error
            except Exception as error:  # noqa: BLE001 - counted, then fatal: see WorkerFailed
                unexpected += 1
                if unexpected >= self._retry.unexpected_attempts:
                    raise WorkerFailed(f"{self.projection.name}: {error!r}") from error
                reason = error
            metrics.RETRIES.labels(self.projection.name).inc()
            log.warning("batch failed; trying it again", exc_info=reason, extra={
                "projection": self.projection.name, "attempt": attempt,
                "messages": len(messages), "reason": str(reason)})
            await self.close()  # a fresh connection: the old one may be broken
            await asyncio.sleep(self._retry.backoff(attempt))

    async def _handle_once(self, messages: Sequence[Message]) -> Outcome:
        started, started_ns = time.perf_counter(), time.time_ns()
        decoded = [self._decode(m) for m in messages]
        conn = await self._connection()
        outcome = Outcome()
        payloads = {(m.topic, m.partition, m.offset): m.value for m in messages}
        async with conn.transaction():
            for segment in _segments(decoded):
                if isinstance(segment, Undecodable):
                    outcome.letters += await self._park(conn, segment)
                    continue
                result = await self.projector.apply(conn, segment)
                outcome.applied += result.applied
                outcome.duplicates += result.duplicates
                outcome.ignored += result.ignored
                rows = [dead_letters.letter_row(self.projection.name, letter, payloads.get(
                    (letter.delivery.topic, letter.delivery.partition, letter.delivery.offset)))
                    for letter in result.dead_letters]
                outcome.letters += await dead_letters.record(conn, rows)
        if outcome.letters:
            await self._publish(outcome.letters)
        self._count(outcome, decoded, time.perf_counter() - started)
        if tracing.enabled():
            self._trace(messages, started_ns)
        return outcome

    def _trace(self, messages: Sequence[Message], started_ns: int) -> None:
        """A span per traced message in its command's trace: from the batch's start to its
        commit (the batch is one transaction, so each message took that long)."""
        ended = time.time_ns()
        name = f"project {self.projection.name}"
        for message in messages:
            span = tracing.child_span(name, tracing.header_value(message.headers),
                                      SpanKind.CONSUMER, {
                                          "messaging.destination.name": message.topic,
                                          "messaging.kafka.offset": message.offset,
                                          "smartcourse.batch_size": len(messages)},
                                      start_time=started_ns)
            if span is not None:
                span.end(end_time=ended)

    async def _park(self, conn: AsyncConnection, poison: Undecodable) -> list[Letter]:
        """A message that is no event: record it and park its aggregate behind it, unless
        its letter exists already (a redelivery, perhaps after the aggregate was replayed)."""
        (letter,) = await dead_letters.record(conn, [dead_letters.poison_row(
            self.projection.name, poison.topic, poison.partition, poison.offset,
            poison.aggregate_id, UNDECODABLE, poison.error, poison.value)])
        if letter.new and poison.aggregate_id is not None:
            await self.projector.park(conn, poison.aggregate_id, UNDECODABLE, poison.error)
        return [letter]

    async def _connection(self) -> AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await AsyncConnection.connect(self._dsn, autocommit=True)
            await dead_letters.ensure_dead_letters(self._conn)
        return self._conn

    def _count(self, outcome: Outcome, decoded: list[Decoded], seconds: float) -> None:
        name = self.projection.name
        metrics.APPLIED.labels(name).inc(outcome.applied)
        metrics.SKIPPED.labels(name, "duplicate").inc(outcome.duplicates)
        metrics.SKIPPED.labels(name, "ignored").inc(outcome.ignored)
        for letter in outcome.letters:
            if letter.new:
                metrics.DEAD_LETTERS.labels(name, letter.reason).inc()
                log.error("dead letter", extra={
                    "projection": name, "dead_letter_id": letter.id, "reason": letter.reason,
                    "error": letter.error, "event_id": letter.event_id,
                    "aggregate_id": letter.aggregate_id, "topic": letter.topic,
                    "partition": letter.partition, "offset": letter.offset})
        metrics.BATCH_SECONDS.labels(name).observe(seconds)
        metrics.BATCH_SIZE.labels(name).observe(len(decoded))
        positions = [d.position if isinstance(d, WatermarkDelivery) else d.event.position
                     for d in decoded if not isinstance(d, Undecodable)]
        if positions:
            metrics.POSITION.labels(name).set(max(positions))


def _segments(decoded: Sequence[Decoded]
              ) -> list[list[EventDelivery | WatermarkDelivery] | Undecodable]:
    """Runs of events and markers, split at each undecodable message, so the aggregate it
    parks is parked exactly between the events before it and those after."""
    out: list[list[EventDelivery | WatermarkDelivery] | Undecodable] = []
    run: list[EventDelivery | WatermarkDelivery] = []
    for item in decoded:
        if isinstance(item, Undecodable):
            if run:
                out.append(run)
                run = []
            out.append(item)
        else:
            run.append(item)
    if run:
        out.append(run)
    return out
