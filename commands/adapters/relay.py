"""The outbox relay: follows the event store's global order and publishes each event to Kafka.

Why it can never skip or reorder: appends hold one advisory lock from position assignment to
commit, so positions are gap-free and become visible in order; the relay reads
`position > checkpoint ORDER BY position`. Why it never loses an event: the checkpoint moves
only after Kafka confirmed delivery of the whole batch (acks=all, idempotent producer with the
gapless guarantee), so a crash at any point re-sends from the last checkpoint: at-least-once,
in per-aggregate order, and consumers drop duplicates by event id or aggregate version.

One relay per name is active at a time (a session advisory lock); a second one waits as a
standby and takes over when the first one's connection ends.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from prometheus_client import Counter, Gauge, Histogram

from commands.adapters.avro_contracts import ContractError, EventEncoder, topic_name
from commands.adapters.event_store import COLUMNS, NOTIFY_CHANNEL, StoredEvent
from commands.domain.registry import AGGREGATES
from smartcourse.settings import Settings

log = logging.getLogger("smartcourse.relay")

RELAY_LOCK = 7_201_002  # with hashtext(name): the key of the one-active-relay-per-name lock
DEFAULT_NAME = "kafka-relay"

RELAYED = Counter("smartcourse_relay_events_total",
                  "Events whose delivery to Kafka was confirmed", ["relay", "topic"])
DEAD_LETTERS = Counter("smartcourse_relay_dead_letters_total",
                       "Events that do not fit their contract, sent to the dead-letter topic",
                       ["relay"])
LAG = Gauge("smartcourse_relay_lag_events",
            "Events committed to the store but not yet confirmed in Kafka", ["relay"])
CHECKPOINT = Gauge("smartcourse_relay_checkpoint_position",
                   "Global position up to which Kafka has every event", ["relay"])
BATCH_SECONDS = Histogram("smartcourse_relay_batch_seconds",
                          "Time to read, publish and confirm one batch", ["relay"],
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                   2.5, 5, 10))


@dataclass(frozen=True)
class RelayConfig:
    name: str = DEFAULT_NAME  # the checkpoint row and the leadership lock
    topic_prefix: str = "smartcourse"
    batch_size: int = 2_000
    poll_interval: float = 1.0  # seconds: the fallback if a NOTIFY is missed
    start_after: int = 0  # where a relay without a checkpoint starts
    partitions: int = 6
    replication_factor: int = 1
    linger_ms: int = 5
    compression: str = "lz4"
    flush_timeout: float = 330.0  # above librdkafka's delivery.timeout.ms (300 s)
    retry_backoff: float = 2.0
    gap_timeout: float = 10.0  # how long a hole in the positions is waited for (see _contiguous)
    producer_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic_prefix}.relay.dlq"

    def topics(self) -> list[str]:
        return [topic_name(a, self.topic_prefix) for a in AGGREGATES] + [self.dead_letter_topic]


class DeliveryFailed(Exception):
    """Kafka did not confirm a batch; it is sent again from the checkpoint."""


class Relay:
    def __init__(self, settings: Settings, config: RelayConfig | None = None) -> None:
        self.settings = settings
        self.config = config or RelayConfig()
        self.position = 0  # everything up to here is confirmed in Kafka
        self._stopping = threading.Event()
        self._gap_since: float | None = None
        self._encoder = EventEncoder(SchemaRegistryClient({"url": settings.registry_url}))
        self._totals: Tally[str] = Tally()

    def stop(self) -> None:
        """Finish the batch in flight, record it, and return from `run`."""
        self._stopping.set()

    # -- the loop ----------------------------------------------------------------------------
    def run(self, ready: Callable[[], None] | None = None) -> None:
        name = self.config.name
        with psycopg.connect(self.settings.pg_dsn, autocommit=True) as conn:
            if not self._await_leadership(conn):
                return
            ensure_topics(self.settings.kafka_bootstrap, self.config.topics(),
                          self.config.partitions, self.config.replication_factor)
            self._encoder.register_all()  # fails fast on a contract the registry refuses
            self.position = self._load_checkpoint(conn)
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            producer = self._producer()
            log.info("relay started", extra={"relay": name, "position": self.position})
            if ready is not None:
                ready()
            last_report = time.monotonic()
            while not self._stopping.is_set():
                try:
                    relayed = self._relay_batch(conn, producer)
                except DeliveryFailed as error:
                    log.error("delivery failed; resending from the checkpoint",
                              extra={"relay": name, "position": self.position,
                                     "reason": str(error)})
                    producer = self._producer()  # a fresh idempotent session
                    self._stopping.wait(self.config.retry_backoff)
                    continue
                if relayed < self.config.batch_size:
                    self._wait_for_append(conn)
                if time.monotonic() - last_report >= 10:
                    last_report = time.monotonic()
                    log.info("relay progress", extra={"relay": name, "position": self.position,
                                                      "relayed": dict(self._totals)})
            log.info("relay stopped", extra={"relay": name, "position": self.position})

    def _await_leadership(self, conn: psycopg.Connection) -> bool:
        announced = False
        while not self._stopping.is_set():
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

    def _wait_for_append(self, conn: psycopg.Connection) -> None:
        """Until the store NOTIFYs an append, the poll interval passes, or stop is asked."""
        for _ in conn.notifies(timeout=self.config.poll_interval, stop_after=1):
            pass

    # -- one batch ---------------------------------------------------------------------------
    def _relay_batch(self, conn: psycopg.Connection, producer: Producer) -> int:
        started = time.perf_counter()
        events = self._fetch(conn)
        if not events:
            self._update_lag(conn)
            return 0
        failures: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, _message: Any) -> None:
            if error is not None:
                failures.append(error)

        topics: Tally[str] = Tally()
        for event in events:
            topic = self._publish(producer, event, on_delivery)
            topics[topic] += 1
        remaining = producer.flush(self.config.flush_timeout)
        if remaining or failures:
            raise DeliveryFailed(f"{len(failures)} failed, {remaining} unconfirmed: "
                                 f"{failures[0] if failures else 'flush timed out'}")
        # Only now, with every message of the batch confirmed, may the checkpoint move.
        self._save_checkpoint(conn, events[-1].position)
        for topic, count in topics.items():
            RELAYED.labels(self.config.name, topic).inc(count)
        self._totals.update(topics)
        self._update_lag(conn)
        seconds = time.perf_counter() - started
        BATCH_SECONDS.labels(self.config.name).observe(seconds)
        log.debug("batch relayed", extra={"relay": self.config.name, "events": len(events),
                                          "position": self.position, "seconds": seconds})
        return len(events)

    def _fetch(self, conn: psycopg.Connection) -> list[StoredEvent]:
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM event_store.events WHERE position > %s"
            " ORDER BY position LIMIT %s",
            [self.position, self.config.batch_size],
        ).fetchall()
        return self._contiguous([StoredEvent(*row) for row in rows])

    def _contiguous(self, events: list[StoredEvent]) -> list[StoredEvent]:
        """The batch up to its first hole in the positions.

        The store's lock makes holes impossible; this guards the invariant should a writer
        ever bypass it: a hole may be a transaction still to commit, so it is waited for, and
        only skipped (loudly) after `gap_timeout`.
        """
        if events and events[0].position != self.position + 1:
            now = time.monotonic()
            self._gap_since = self._gap_since or now
            if now - self._gap_since < self.config.gap_timeout:
                return []
            log.error("skipping a hole in the event store's positions",
                      extra={"relay": self.config.name, "missing_from": self.position + 1,
                             "missing_to": events[0].position - 1})
            self.position = events[0].position - 1
        self._gap_since = None
        for index in range(1, len(events)):
            if events[index].position != events[index - 1].position + 1:
                return events[:index]
        return events

    def _publish(self, producer: Producer, event: StoredEvent,
                 on_delivery: Callable[[KafkaError | None, Any], None]) -> str:
        topic = topic_name(event.aggregate_type, self.config.topic_prefix)
        headers = [("event_id", str(event.event_id).encode()),
                   ("event_type", event.event_type.encode()),
                   ("correlation_id", str(event.correlation_id).encode())]
        try:
            value = self._encoder.encode(event, topic)
        except ContractError as error:
            topic, value = self.config.dead_letter_topic, _dead_letter(event, str(error))
            headers.append(("reason", str(error).encode()))
            DEAD_LETTERS.labels(self.config.name).inc()
            log.error("event does not fit its contract; sent to the dead-letter topic",
                      extra={"relay": self.config.name, "event_id": str(event.event_id),
                             "correlation_id": str(event.correlation_id),
                             "position": event.position, "reason": str(error)})
        key = str(event.aggregate_id).encode()
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers,
                                 on_delivery=on_delivery)
                return topic
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)

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

    def _save_checkpoint(self, conn: psycopg.Connection, position: int) -> None:
        conn.execute(
            "UPDATE event_store.checkpoints SET position = %s, updated_at = now()"
            " WHERE name = %s", [position, self.config.name])
        self.position = position
        CHECKPOINT.labels(self.config.name).set(position)

    def _update_lag(self, conn: psycopg.Connection) -> None:
        row = conn.execute("SELECT coalesce(max(position), 0) FROM event_store.events").fetchone()
        LAG.labels(self.config.name).set(max(0, (row[0] if row else 0) - self.position))

    def _producer(self) -> Producer:
        config = {
            "bootstrap.servers": self.settings.kafka_bootstrap,
            "client.id": f"smartcourse-relay-{self.config.name}",
            "enable.idempotence": True,
            "acks": "all",
            # Any failure that could leave a hole in a partition stops the producer instead,
            # so a resend from the checkpoint never lands after a later event of the aggregate.
            "enable.gapless.guarantee": True,
            "linger.ms": self.config.linger_ms,
            "compression.type": self.config.compression,
            "partitioner": "murmur2_random",  # the Java and aiokafka clients' partitioning
            "queue.buffering.max.messages": max(100_000, 2 * self.config.batch_size),
            "error_cb": _log_kafka_error,
            "logger": log,  # librdkafka's own log lines, as structured records
            **self.config.producer_overrides,
        }
        return Producer(config)


def _log_kafka_error(error: KafkaError) -> None:
    log.warning("kafka client error", extra={"reason": str(error), "fatal": error.fatal()})


def _dead_letter(event: StoredEvent, reason: str) -> bytes:
    """The event as JSON with the reason: enough to inspect it and relay it again later."""
    return json.dumps({
        "reason": reason,
        "event": {
            "position": event.position, "event_id": str(event.event_id),
            "event_type": event.event_type, "aggregate_type": event.aggregate_type,
            "aggregate_id": str(event.aggregate_id), "version": event.version,
            "schema_version": event.schema_version, "payload": event.payload,
            "occurred_at": event.occurred_at.isoformat(), "actor": event.actor,
            "correlation_id": str(event.correlation_id),
            "causation_id": None if event.causation_id is None else str(event.causation_id),
        },
    }).encode()


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
