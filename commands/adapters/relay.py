"""The outbox relay: follows the event store's global order and publishes each event to Kafka.

Why it never skips or reorders: appends hold one advisory lock from position assignment to
commit, so positions are gap-free and become visible in order; the relay reads
`position > last ORDER BY position`. Why it never loses an event: its checkpoint moves past a
batch only once Kafka confirmed every message of it (acks=all, idempotent producer, no
message timeout, the gapless guarantee), so a crash at any point re-sends from the checkpoint:
at-least-once, in per-aggregate order. Consumers apply an aggregate's events by version
(last + 1), which makes the repeats harmless.

Batches are pipelined: the next one is read and produced while Kafka acknowledges the one
before (and, with a backlog, PostgreSQL reads the one after on a second connection while
this one is encoded), and checkpoints still move strictly in order.

Watermark markers (docs/adr/0004): after the checkpoint moves (at most every
`marker_interval` while busy) and every `poll_interval` when idle, every partition of every
domain topic gets a keyless message with the header `smartcourse-watermark` = the checkpoint.
It is produced only after Kafka confirmed every event up to it, so in each partition it lands
behind them: a consumer that reached the marker P of a partition has seen all of its events
<= P. Other consumers skip messages carrying that header. One relay per name is active at a time
(a session advisory lock); another waits as a standby and takes over when its connection ends.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge, Histogram

from commands.adapters.avro_contracts import (
    ContractError,
    EventEncoder,
    build_record,
    envelope,
    registry_client,
    topic_name,
)
from commands.adapters.event_store import NOTIFY_CHANNEL
from commands.domain.registry import AGGREGATES
from projections.positions import POSITIONS_CHANNEL
from smartcourse.observability import tracing
from smartcourse.settings import Settings

log = logging.getLogger("smartcourse.relay")

RELAY_LOCK = 7_201_002  # with hashtext(name): the key of the one-active-relay-per-name lock
WATERMARK_HEADER = "smartcourse-watermark"

RELAYED = Counter("smartcourse_relay_events_total",
                  "Events whose delivery to Kafka was confirmed", ["relay", "topic"])
DEAD_LETTERS = Counter("smartcourse_relay_dead_letters_total",
                       "Events that do not fit their contract, sent to the dead-letter topic",
                       ["relay"])
UNDELIVERABLE = Counter("smartcourse_relay_undeliverable_total",
                        "Events Kafka cannot take (too large, refused for good), sent to the "
                        "dead-letter topic by reference; alert on any increase", ["relay"])
LAG = Gauge("smartcourse_relay_lag_events",
            "Events committed to the store but not yet confirmed in Kafka", ["relay"])
CHECKPOINT = Gauge("smartcourse_relay_checkpoint_position",
                   "Global position up to which Kafka has every event", ["relay"])
WATERMARK = Gauge("smartcourse_relay_watermark_position",
                  "Global position of the last watermark marker sent", ["relay"])
BATCH_SECONDS = Histogram("smartcourse_relay_batch_seconds",
                          "From reading a batch to Kafka confirming all of it", ["relay"],
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                   2.5, 5, 10))


@dataclass(frozen=True)
class RelayConfig:
    name: str = "kafka-relay"  # the checkpoint row and the leadership lock
    topic_prefix: str = "smartcourse"
    batch_size: int = 2_000
    max_in_flight: int = 2  # batches produced but not yet confirmed
    poll_interval: float = 1.0  # seconds: the fallback if a NOTIFY is missed
    start_after: int = 0  # where a relay without a checkpoint starts
    partitions: int = 6
    replication_factor: int = 1
    linger_ms: int = 5
    compression: str = "lz4"
    stop_grace: float = 30.0  # on stop, how long to wait for Kafka to confirm what is in flight
    retry_backoff: float = 2.0
    gap_timeout: float = 10.0  # how long a hole in the positions is waited for (_contiguous)
    marker_interval: float = 0.1  # seconds: watermark markers at most this often while busy
    metadata_refresh: float = 60.0  # seconds between refreshes of the topics' partition counts
    producer_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def max_message_bytes(self) -> int:
        """The largest message the producer takes (librdkafka's `message.max.bytes`)."""
        return int(self.producer_overrides.get("message.max.bytes", 1_000_000))

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic_prefix}.relay.dlq"

    def domain_topics(self) -> list[str]:
        return [topic_name(a, self.topic_prefix) for a in AGGREGATES]

    def topics(self) -> list[str]:
        return self.domain_topics() + [self.dead_letter_topic]


class DeliveryFailed(Exception):
    """Kafka refused a message; everything after the checkpoint is sent again."""


# Refusals that sending again cannot cure: the message itself is at fault, not Kafka's state.
# Such an event is dead-lettered (by reference) instead of stopping the relay for good.
PERMANENT = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE,
                       KafkaError.INVALID_RECORD, KafkaError.RECORD_LIST_TOO_LARGE})
MESSAGE_OVERHEAD = 512  # bytes librdkafka adds to key, value and headers when it sizes one


class Row(NamedTuple):
    """One stored event as the relay reads it: ids as text and the time in microseconds, the
    forms the Avro writer stores (parsing them into objects and back costs more than Avro)."""

    position: int
    event_id: str
    aggregate_type: str
    aggregate_id: str
    version: int
    event_type: str
    schema_version: int
    payload: str | None  # JSON; only read when `encoded` is not stored
    occurred_at_us: int | None  # None (like the payload) when `encoded` is stored
    actor: str | None
    correlation_id: str
    causation_id: str | None
    encoded: bytes | None = None  # Avro as published, when the appender encoded it
    trace_parent: str | None = None  # the appending request's trace (W3C traceparent)


def _fetch(whole_rows: bool) -> str:
    """The relay's read. What the Avro envelope needs beyond the headers is read only for
    rows stored without their encoded bytes, unless `whole_rows`."""
    def unencoded_only(column: str) -> str:
        return column if whole_rows else f"CASE WHEN encoded IS NULL THEN {column} END"

    return (
        "SELECT position, event_id::text, aggregate_type, aggregate_id::text, version,"
        f" event_type, schema_version, {unencoded_only('payload::text')},"
        f" {unencoded_only('(extract(epoch FROM occurred_at) * 1000000)::bigint')},"
        f" {unencoded_only('actor')}, correlation_id::text,"
        f" {unencoded_only('causation_id::text')}, encoded, trace_parent"
        " FROM event_store.events WHERE position > %s ORDER BY position LIMIT %s"
    )


SAVE_HEADS = """
INSERT INTO event_store.partition_heads AS h (relay, topic, partition, position)
SELECT %(relay)s, * FROM unnest(%(topics)s::text[], %(partitions)s::int[], %(positions)s::bigint[])
ON CONFLICT (relay, topic, partition) DO UPDATE SET position = excluded.position
WHERE excluded.position > h.position
"""

SEED_HEADS = """
INSERT INTO event_store.partition_heads (relay, topic, partition, position)
SELECT %(relay)s, * FROM unnest(%(topics)s::text[], %(partitions)s::int[], %(positions)s::bigint[])
ON CONFLICT (relay, topic, partition) DO NOTHING
"""

FETCH = _fetch(whole_rows=False)
FETCH_WHOLE_ROWS = _fetch(whole_rows=True)  # for tools that encode rows themselves


@dataclass
class _Batch:
    """Messages handed to the producer; confirmed when `outstanding` reaches 0."""

    last_position: int
    outstanding: int
    started: float
    topics: Tally[str] = field(default_factory=Tally)
    failures: list[KafkaError] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # event ids Kafka refused for good
    # The batch's last position per aggregate (its events share a key, hence a partition),
    # and from the delivery reports the last position delivered per (topic, partition).
    last_of_key: dict[bytes, int] = field(default_factory=dict)
    heads: dict[tuple[str, int], int] = field(default_factory=dict)

    def on_delivery(self, error: KafkaError | None, message: Any) -> None:
        self.outstanding -= 1  # called on the relay's thread, from poll() or flush()
        if error is None:
            if message is None:  # librdkafka always gives it; stand-ins may not
                return
            where = (message.topic(), message.partition())
            position = self.last_of_key[message.key()]
            if position > self.heads.get(where, 0):
                self.heads[where] = position
        else:
            self.failures.append(error)
            if message is not None and isinstance(error, KafkaError) and error.code() in PERMANENT:
                headers = dict(message.headers() or [])
                if "event_id" in headers:
                    self.refused.add(headers["event_id"].decode())


class _Reader:
    """Reads batches from the store on a connection of its own, one batch ahead while there is
    a backlog, so PostgreSQL reads the next batch while this one is encoded and produced."""

    def __init__(self, conn: psycopg.Connection, pool: ThreadPoolExecutor,
                 fetch: Callable[[psycopg.Connection, int], list[Row]]) -> None:
        self._conn, self._pool, self._fetch = conn, pool, fetch
        self._ahead: tuple[int, Future[list[Row]]] | None = None  # (after, its rows)

    def rows(self, after: int) -> list[Row]:
        """The rows after `after`: those read ahead if they start there, else read now."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            rows = ahead[1].result()  # also when unused: the connection serves one at a time
            if ahead[0] == after:
                return rows
        return self._fetch(self._conn, after)

    def read_ahead(self, after: int) -> None:
        self._ahead = (after, self._pool.submit(self._fetch, self._conn, after))

    def discard(self) -> None:
        """Drop a read ahead (waiting for it to end: the connection serves one at a time)."""
        if self._ahead is not None:
            wait([self._ahead[1]])
            self._ahead = None


class Relay:
    def __init__(self, settings: Settings, config: RelayConfig | None = None,
                 beat: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.config = config or RelayConfig()
        self._beat = beat  # each round of every loop: the process's liveness (heartbeat.py)
        self.position = 0  # the checkpoint: Kafka has every event up to here
        self._stopping = threading.Event()
        self._gap_since: float | None = None
        self._marked = -1  # the position of the last watermark marker, and when it was sent
        self._marked_at = -float("inf")
        self._partitions: dict[str, int] = {}
        self._partitions_at = -float("inf")
        self._topics: dict[str, str] = {}  # aggregate type -> its topic
        self._refused: set[str] = set()  # event ids Kafka refused for good: dead-letter them
        self._encoder = EventEncoder(registry_client(settings.registry_url))

    def stop(self) -> None:
        """Finish what is in flight, record it, and return from `run`."""
        self._stopping.set()

    # -- the loop ----------------------------------------------------------------------------
    def run(self, ready: Callable[[], None] | None = None) -> None:
        with (psycopg.connect(self.settings.pg_dsn, autocommit=True) as conn,
              psycopg.connect(self.settings.pg_dsn, autocommit=True) as reader,
              ThreadPoolExecutor(1, thread_name_prefix="relay-read") as read_ahead):
            if not self._await_leadership(conn):
                return
            ensure_topics(self.settings.kafka_bootstrap, self.config.topics(),
                          self.config.partitions, self.config.replication_factor)
            self._encoder.register_all()  # fails fast on a contract the registry refuses
            self.position = self._load_checkpoint(conn)
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            producer = self._producer()
            producer.list_topics(timeout=30)  # connected before the first batch
            self._seed_heads(conn, producer)
            log.info("relay started", extra={"relay": self.config.name,
                                              "position": self.position})
            if ready is not None:
                ready()
            while not self._relay(conn, producer, _Reader(reader, read_ahead, self._fetch)):
                self._stopping.wait(self.config.retry_backoff)
                producer = self._producer()  # a fresh idempotent session
            log.info("relay stopped", extra={"relay": self.config.name,
                                              "position": self.position})

    def _relay(self, conn: psycopg.Connection, producer: Producer, reader: _Reader) -> bool:
        """Relay until stopped (True) or until Kafka refuses a message (False)."""
        in_flight: deque[_Batch] = deque()
        after = self.position
        try:
            while True:
                self._beat()
                stopping = self._stopping.is_set()
                rows = [] if stopping else reader.rows(after)
                caught_up = len(rows) < self.config.batch_size
                if rows:
                    after = rows[-1].position
                    if not caught_up:  # a backlog: the store reads the next batch meanwhile
                        reader.read_ahead(after)
                    in_flight.append(self._send(producer, rows))
                # Caught up: confirm everything now, for latency; else keep the pipe full.
                keep = 0 if caught_up else self.config.max_in_flight - 1
                self._settle(conn, producer, in_flight, keep)
                if self._stopping.is_set():
                    return True
                self._mark(producer, time.monotonic())
                if caught_up:
                    self._wait_for_append(conn, min(self.config.poll_interval,
                                                    self._marker_due_in(time.monotonic())))
        except DeliveryFailed as error:
            for batch in in_flight:
                self._refused |= batch.refused
            log.error("delivery failed; sending again from the checkpoint",
                      extra={"relay": self.config.name, "position": self.position,
                             "reason": str(error)})
            # Nothing of the old session may land after the resend: drop what it still holds.
            producer.purge()
            producer.flush(0)
            return False
        finally:
            reader.discard()

    def _await_leadership(self, conn: psycopg.Connection) -> bool:
        announced = False
        while not self._stopping.is_set():
            self._beat()
            row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                               [RELAY_LOCK, self.config.name]).fetchone()
            if row and row[0]:
                return True
            if not announced:
                log.info("standing by: another relay of this name is active",
                         extra={"relay": self.config.name})
                announced = True
            self._stopping.wait(self.config.poll_interval)
        return False

    def _wait_for_append(self, conn: psycopg.Connection, timeout: float) -> None:
        """Until the store NOTIFYs an append or `timeout` (the poll interval, or less when a
        watermark marker falls due sooner) passes.

        NOTIFYs that came while the relay was busy are all taken at once (one fetch covers
        them), so a backlog of them costs one query, not one each.
        """
        if sum(1 for _ in conn.notifies(timeout=0)):
            return
        for _ in conn.notifies(timeout=timeout, stop_after=1):
            pass

    # -- batches -----------------------------------------------------------------------------
    def _fetch(self, conn: psycopg.Connection, after: int) -> list[Row]:
        rows = conn.execute(FETCH, [after, self.config.batch_size]).fetchall()
        return self._contiguous(after, [Row(*row) for row in rows])

    def _contiguous(self, after: int, rows: list[Row]) -> list[Row]:
        """The rows up to the first hole in their positions.

        The store's lock makes holes impossible; this guards the invariant should a writer
        ever bypass it: a hole may be a transaction still to commit, so it is waited for, and
        only skipped (loudly) after `gap_timeout`.
        """
        if rows and rows[0].position != after + 1:
            now = time.monotonic()
            self._gap_since = self._gap_since or now
            if now - self._gap_since < self.config.gap_timeout:
                return []
            log.error("skipping a hole in the event store's positions",
                      extra={"relay": self.config.name, "missing_from": after + 1,
                             "missing_to": rows[0].position - 1})
        self._gap_since = None
        for index in range(1, len(rows)):
            if rows[index].position != rows[index - 1].position + 1:
                return rows[:index]
        return rows

    def _send(self, producer: Producer, rows: list[Row]) -> _Batch:
        batch = _Batch(rows[-1].position, len(rows), time.perf_counter())
        produce, on_delivery, message = producer.produce, batch.on_delivery, self._message
        largest = self.config.max_message_bytes - MESSAGE_OVERHEAD
        topics = []
        last_of_key = batch.last_of_key
        for row in rows:  # the relay's hot loop: names bound once, no keyword dicts
            topic, value, headers = message(row)
            key = row.aggregate_id.encode()
            last_of_key[key] = row.position
            if len(value) > largest or (self._refused and row.event_id in self._refused):
                topic, value, headers = self._undeliverable(row, value, "too large for Kafka"
                                                            if len(value) > largest else
                                                            "refused by Kafka for good")
            try:
                produce(topic, value, key, on_delivery=on_delivery, headers=headers)
            except BufferError:  # the local queue is full: wait for deliveries to drain it
                _produce(producer, topic, value=value, key=key, headers=headers,
                         on_delivery=on_delivery)
            except KafkaException as error:
                if error.args[0].code() not in PERMANENT:
                    raise DeliveryFailed(f"produce refused: {error}") from error
                topic, value, headers = self._undeliverable(row, value, str(error))
                _produce(producer, topic, value=value, key=key, headers=headers,
                         on_delivery=on_delivery)
            topics.append(topic)
        batch.topics.update(topics)
        producer.poll(0)  # serve the delivery reports that are already in
        return batch

    def _message(self, row: Row) -> tuple[str, bytes, list[tuple[str, bytes]]]:
        """The topic, value and headers of a row: its Avro encoding on its aggregate type's
        topic, or a dead letter if it does not fit its contract."""
        topic = self._topics.get(row.aggregate_type)
        if topic is None:
            topic = self._topics[row.aggregate_type] = topic_name(row.aggregate_type,
                                                                  self.config.topic_prefix)
        headers = [("event_id", row.event_id.encode()), ("event_type", row.event_type.encode()),
                   ("correlation_id", row.correlation_id.encode())]
        if row.trace_parent is not None:
            headers.append((tracing.HEADER, self._traced(row, topic).encode()))
        if row.encoded is not None:  # encoded when appended: nothing left to do
            return topic, row.encoded, headers
        try:
            return topic, self._encoder.encode_record(row.event_type, avro_record(row)), headers
        except ContractError as error:
            reason = str(error)
        headers.append(("reason", reason.encode()))
        DEAD_LETTERS.labels(self.config.name).inc()
        log.error("event does not fit its contract; sent to the dead-letter topic",
                  extra={"relay": self.config.name, "event_id": row.event_id,
                         "correlation_id": row.correlation_id, "position": row.position,
                         "reason": reason})
        return self.config.dead_letter_topic, _dead_letter(row, reason), headers

    def _traced(self, row: Row, topic: str) -> str:
        """A span for the event's publication in its command's trace; the traceparent that
        continues it in the consumers (the stored one when tracing is off here)."""
        span = tracing.child_span(f"relay publish {row.event_type}", row.trace_parent,
                                  SpanKind.PRODUCER, {"messaging.destination.name": topic,
                                                      "smartcourse.position": row.position,
                                                      "smartcourse.event_id": row.event_id})
        if span is None:
            return row.trace_parent or ""
        span.end()
        return tracing.traceparent_of(span)

    def _undeliverable(self, row: Row, value: bytes, reason: str
                       ) -> tuple[str, bytes, list[tuple[str, bytes]]]:
        """The dead letter of an event Kafka cannot take: a reference to it (the store keeps
        the event itself), so that the letter always fits and later events go on."""
        self._refused.discard(row.event_id)
        UNDELIVERABLE.labels(self.config.name).inc()
        DEAD_LETTERS.labels(self.config.name).inc()
        log.error("event cannot be delivered to Kafka; sent to the dead-letter topic by "
                  "reference", extra={"relay": self.config.name, "event_id": row.event_id,
                                      "correlation_id": row.correlation_id,
                                      "position": row.position, "bytes": len(value),
                                      "reason": reason})
        letter = {"reason": reason, "kind": "undeliverable", "bytes": len(value),
                  "event": {"position": row.position, "event_id": row.event_id,
                            "aggregate_type": row.aggregate_type,
                            "aggregate_id": row.aggregate_id, "version": row.version,
                            "event_type": row.event_type,
                            "correlation_id": row.correlation_id}}
        headers = [("event_id", row.event_id.encode()), ("event_type", row.event_type.encode()),
                   ("correlation_id", row.correlation_id.encode()),
                   ("reason", reason.encode()[:1000])]
        return self.config.dead_letter_topic, json.dumps(letter).encode(), headers

    # -- watermark markers -------------------------------------------------------------------
    def _marker_due_in(self, now: float) -> float:
        """Seconds until the next marker: soon after the checkpoint moved, else a heartbeat."""
        idle = self.position == self._marked
        wait = self.config.poll_interval if idle else self.config.marker_interval
        return max(0.0, self._marked_at + wait - now)

    def _mark(self, producer: Producer, now: float) -> None:
        """Send the checkpoint as a marker to every partition of every domain topic, if due."""
        if self._marker_due_in(now) > 0:
            return
        position = self.position
        value = str(position).encode()
        try:
            for topic, count in self._partition_counts(producer, now).items():
                for partition in range(count):
                    _produce(producer, topic, value=value, partition=partition,
                             headers=[(WATERMARK_HEADER, value)], on_delivery=_marker_delivered)
        except KafkaException as error:  # a fatal producer: start a fresh session
            raise DeliveryFailed(f"watermark marker refused: {error}") from error
        self._marked, self._marked_at = position, now
        WATERMARK.labels(self.config.name).set(position)

    def _partition_counts(self, producer: Producer, now: float) -> dict[str, int]:
        """Partitions per domain topic, from metadata refreshed every `metadata_refresh`."""
        if now - self._partitions_at >= self.config.metadata_refresh:
            try:
                topics = producer.list_topics(timeout=10).topics
            except KafkaException as error:  # keep the counts we know; retry next time
                log.warning("topic metadata unavailable", extra={"reason": str(error)})
            else:
                self._partitions = {t: len(topics[t].partitions)
                                    for t in self.config.domain_topics() if t in topics}
                self._partitions_at = now
        return self._partitions

    def _settle(self, conn: psycopg.Connection, producer: Producer, in_flight: deque[_Batch],
                keep: int) -> None:
        """Wait until at most `keep` batches are unconfirmed (none once stop is asked),
        recording the confirmed batches at the head, in order. Stopping gives up after
        `stop_grace`: what is not confirmed then is not recorded, so it is sent again."""
        stop_seen: float | None = None
        warned = time.monotonic()
        while True:
            confirmed = None
            heads: dict[tuple[str, int], int] = {}
            while in_flight and in_flight[0].outstanding == 0:
                batch = in_flight.popleft()
                if batch.failures:
                    self._refused |= batch.refused
                    raise DeliveryFailed(f"{len(batch.failures)} refused: {batch.failures[0]}")
                confirmed = batch
                heads.update(batch.heads)  # batches in order: a later head is higher
                self._count(batch)
            if confirmed is not None:
                # Only now, with every message up to it confirmed, may the checkpoint move.
                self._save_checkpoint(conn, confirmed.last_position, heads)
                self._update_lag(conn)
            now = time.monotonic()
            if self._stopping.is_set():
                keep, stop_seen = 0, stop_seen or now
            if len(in_flight) <= keep:
                return
            if stop_seen is not None and now - stop_seen > self.config.stop_grace:
                log.warning("stopping with unconfirmed messages; they will be sent again",
                            extra={"relay": self.config.name, "position": self.position})
                return
            self._beat()  # waiting on Kafka is not a stall: the loop goes round
            if now - warned > 10:
                warned = now
                log.warning("waiting for Kafka to confirm", extra={
                    "relay": self.config.name, "position": self.position})
            producer.poll(0.05)

    def _count(self, batch: _Batch) -> None:
        for topic, count in batch.topics.items():
            RELAYED.labels(self.config.name, topic).inc(count)
        BATCH_SECONDS.labels(self.config.name).observe(time.perf_counter() - batch.started)

    # -- state -------------------------------------------------------------------------------
    def _load_checkpoint(self, conn: psycopg.Connection) -> int:
        conn.execute(
            "INSERT INTO event_store.checkpoints (name, position) VALUES (%s, %s)"
            " ON CONFLICT (name) DO NOTHING", [self.config.name, self.config.start_after])
        row = conn.execute("SELECT position FROM event_store.checkpoints WHERE name = %s",
                           [self.config.name]).fetchone()
        assert row is not None
        CHECKPOINT.labels(self.config.name).set(row[0])
        return int(row[0])

    def _seed_heads(self, conn: psycopg.Connection, producer: Producer) -> None:
        """A head for every partition without one: the checkpoint (it may hold events up to
        there from before heads were kept), so a consumer counts as holding it all only
        once it got that far (a watermark marker takes it there)."""
        counts = self._partition_counts(producer, time.monotonic())
        keys = [(topic, n) for topic, count in counts.items() for n in range(count)]
        conn.execute(SEED_HEADS, {"relay": self.config.name, "topics": [t for t, _ in keys],
                                  "partitions": [n for _, n in keys],
                                  "positions": [self.position] * len(keys)})

    def _save_checkpoint(self, conn: psycopg.Connection, position: int,
                         heads: dict[tuple[str, int], int] | None = None) -> None:
        """The checkpoint, and in the same commit the partitions' new heads."""
        with conn.transaction():
            conn.execute(
                "UPDATE event_store.checkpoints SET position = %s, updated_at = now()"
                " WHERE name = %s", [position, self.config.name])
            if heads:
                keys = list(heads)
                conn.execute(SAVE_HEADS, {
                    "relay": self.config.name, "topics": [t for t, _ in keys],
                    "partitions": [p for _, p in keys], "positions": list(heads.values())})
                # Wakes read-your-writes waiters: a partition whose head a projection had
                # already applied now counts as at this checkpoint.
                conn.execute("SELECT pg_notify(%s, %s)", [POSITIONS_CHANNEL, self.config.name])
        self.position = position
        CHECKPOINT.labels(self.config.name).set(position)

    def _update_lag(self, conn: psycopg.Connection) -> None:
        row = conn.execute("SELECT coalesce(max(position), 0) FROM event_store.events").fetchone()
        LAG.labels(self.config.name).set(max(0, (row[0] if row else 0) - self.position))

    def _producer(self) -> Producer:
        return Producer({
            "bootstrap.servers": self.settings.kafka_bootstrap,
            "client.id": f"smartcourse-relay-{self.config.name}",
            "enable.idempotence": True,
            "acks": "all",
            # Never give up on a message (Kafka down means waiting, not failing), and stop
            # the producer on any failure that could leave a hole in a partition, so a resend
            # from the checkpoint never lands after a later event of the same aggregate.
            "message.timeout.ms": 0,
            "enable.gapless.guarantee": True,
            "linger.ms": self.config.linger_ms,
            "compression.type": self.config.compression,
            "partitioner": "murmur2_random",  # the Java and aiokafka clients' partitioning
            "queue.buffering.max.messages": max(100_000,
                                                 2 * self.config.max_in_flight
                                                 * self.config.batch_size),
            "error_cb": _log_kafka_error,
            "logger": log,  # librdkafka's own log lines, as structured records
            **self.config.producer_overrides,
        })


def _produce(producer: Producer, topic: str, **message: Any) -> None:
    while True:
        try:
            producer.produce(topic, **message)
            return
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(0.05)


def _marker_delivered(error: KafkaError | None, _message: Any) -> None:
    # A refusal makes the gapless producer fatal, so the next batch restarts the session.
    if error is not None:
        log.warning("watermark marker refused", extra={"reason": str(error)})


def _log_kafka_error(error: KafkaError) -> None:
    log.warning("kafka client error", extra={"reason": str(error), "fatal": error.fatal()})


def avro_record(row: Row) -> dict[str, Any]:
    """The Avro record of a row, checked against its contract (ContractError if it does not fit)."""
    return build_record(row.event_type, envelope(
        row.event_id, row.event_type, row.aggregate_type, row.aggregate_id, row.version,
        row.position, row.occurred_at_us, row.actor, row.correlation_id, row.causation_id,
        row.schema_version,
    ), json.loads(row.payload))


def _dead_letter(row: Row, reason: str) -> bytes:
    """The event as JSON with the reason: enough to inspect it and relay it again later."""
    event = {**row._asdict(), "payload": json.loads(row.payload or "null")}
    del event["encoded"]  # never stored for a row that did not fit its contract
    return json.dumps({"reason": reason, "event": event}).encode()


def ensure_topics(bootstrap: str, topics: list[str], partitions: int,
                  replication_factor: int, timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet (the ones that do are left as they are)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=timeout).topics
    missing = [NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
               for t in topics if t not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, request_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        log.info("topic created", extra={"topic": topic, "partitions": partitions})
