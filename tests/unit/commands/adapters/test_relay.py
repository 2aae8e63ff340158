"""The relay's logic without services: its row-to-record path agrees with the contracts' own,
holes in the positions are waited for, a poison event becomes a self-contained dead letter,
and checkpoints move only over confirmed batches, in order."""

from __future__ import annotations

import contextlib
import json
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.schema_registry import SchemaRegistryClient

from commands.adapters.avro_contracts import (
    EPOCH,
    MICROSECOND,
    ContractError,
    EventDecoder,
    EventEncoder,
    to_record,
)
from commands.adapters.event_store import StoredEvent
from commands.adapters.relay import (
    WATERMARK_HEADER,
    DeliveryFailed,
    Relay,
    RelayConfig,
    Row,
    _Batch,
    _dead_letter,
    _Reader,
    avro_record,
)
from smartcourse.settings import Settings


def stored(position: int = 7, **payload: object) -> StoredEvent:
    return StoredEvent(
        position=position, event_id=uuid4(), aggregate_type="course", aggregate_id=uuid4(),
        version=3, event_type="course.module_added", schema_version=1,
        payload=payload or {"module_id": str(uuid4()), "title": "Basics", "index": 2},
        occurred_at=datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        actor=str(uuid4()), correlation_id=uuid4(), causation_id=uuid4(),
    )


def row_of(event: StoredEvent) -> Row:
    """What the relay's query returns for the event (text ids, microseconds, JSON text)."""
    return Row(
        event.position, str(event.event_id), event.aggregate_type, str(event.aggregate_id),
        event.version, event.event_type, event.schema_version, json.dumps(event.payload),
        (event.occurred_at - EPOCH) // MICROSECOND, event.actor, str(event.correlation_id),
        None if event.causation_id is None else str(event.causation_id),
    )


def test_the_relay_builds_the_same_record_as_the_contracts() -> None:
    event = stored()
    record = avro_record(row_of(event))
    assert record == to_record(event)
    assert record["position"] == 7 and record["index"] == 2  # no name clash


def test_a_poison_row_is_refused_and_its_dead_letter_holds_all_of_it() -> None:
    row = row_of(stored(module_id=str(uuid4()), title="x", position=0, colour="red"))
    with pytest.raises(ContractError, match="colour") as refused:
        avro_record(row)
    letter = json.loads(_dead_letter(row, str(refused.value)))
    assert "colour" in letter["reason"]
    assert letter["event"]["payload"]["colour"] == "red"
    assert letter["event"]["position"] == row.position
    assert letter["event"]["event_id"] == row.event_id


def rows(*positions: int) -> list[Row]:
    return [row_of(stored(position=p)) for p in positions]


def test_a_batch_ends_at_the_first_hole() -> None:
    relay = Relay(Settings(), RelayConfig())
    assert [r.position for r in relay._contiguous(10, rows(11, 12, 14, 15))] == [11, 12]


def test_a_hole_right_after_the_checkpoint_is_waited_for_then_skipped() -> None:
    relay = Relay(Settings(), RelayConfig(gap_timeout=3600))
    assert relay._contiguous(10, rows(12, 13)) == []  # 11 may still be committing
    patient = Relay(Settings(), RelayConfig(gap_timeout=0))
    assert [r.position for r in patient._contiguous(10, rows(12, 13))] == [12, 13]


# -- confirming batches in order ---------------------------------------------------------------
class FakeConnection:
    """Records the checkpoint writes; answers the lag query."""

    def __init__(self) -> None:
        self.checkpoints: list[int] = []

    def execute(self, sql: str, params: list[object] | None = None) -> FakeConnection:
        if sql.startswith("UPDATE event_store.checkpoints"):
            assert params is not None
            self.checkpoints.append(int(params[0]))  # type: ignore[call-overload]
        return self

    def fetchone(self) -> tuple[int]:
        return (0,)

    def transaction(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


class ScriptedProducer:
    """Delivers, on each poll, the next step of a script: (batch, error or None) pairs."""

    def __init__(self, steps: list[list[tuple[_Batch, object]]]) -> None:
        self.steps = steps

    def poll(self, _timeout: float) -> int:
        step = self.steps.pop(0) if self.steps else []
        for batch, error in step:
            batch.on_delivery(error, None)  # type: ignore[arg-type]
        return len(step)


def batch(last_position: int, size: int = 2) -> _Batch:
    return _Batch(last_position=last_position, outstanding=size, started=0.0)


def test_checkpoints_move_in_order_even_when_later_batches_are_confirmed_first() -> None:
    relay, conn = Relay(Settings(), RelayConfig()), FakeConnection()
    first, second = batch(10), batch(12)
    producer = ScriptedProducer([[(second, None), (second, None)], [(first, None)],
                                 [(first, None)]])
    relay._settle(conn, producer, deque([first, second]), keep=0)  # type: ignore[arg-type]
    assert conn.checkpoints == [12]  # not 12 before 10 was confirmed, and no 10 alone
    assert relay.position == 12


def test_a_refused_message_fails_its_batch_and_records_nothing() -> None:
    relay, conn = Relay(Settings(), RelayConfig()), FakeConnection()
    only = batch(10)
    producer = ScriptedProducer([[(only, None), (only, "broker said no")]])
    with pytest.raises(DeliveryFailed, match="broker said no"):
        relay._settle(conn, producer, deque([only]), keep=0)  # type: ignore[arg-type]
    assert conn.checkpoints == []


def test_stopping_gives_up_on_unconfirmed_batches_after_the_grace_without_recording() -> None:
    relay, conn = Relay(Settings(), RelayConfig(stop_grace=0)), FakeConnection()
    relay.stop()
    in_flight = deque([batch(10)])
    relay._settle(conn, ScriptedProducer([]), in_flight, keep=1)  # type: ignore[arg-type]
    assert conn.checkpoints == [] and len(in_flight) == 1


# -- watermark markers -------------------------------------------------------------------------
class MarkerProducer:
    """Records what is produced; its metadata has the domain topics and the dead-letter one."""

    def __init__(self, config: RelayConfig, partitions: int = 3) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []
        self.metadata_calls = 0
        topics = {t: type("T", (), {"partitions": dict.fromkeys(range(partitions))})()
                  for t in config.topics()}
        self._metadata = type("M", (), {"topics": topics})()

    def list_topics(self, timeout: float) -> object:
        self.metadata_calls += 1
        return self._metadata

    def produce(self, topic: str, **message: object) -> None:
        self.sent.append((topic, message))


def marked_relay(**config: object) -> tuple[Relay, MarkerProducer]:
    relay = Relay(Settings(), RelayConfig(marker_interval=0.1, poll_interval=1.0, **config))
    return relay, MarkerProducer(relay.config)


def test_a_marker_goes_to_every_partition_of_every_domain_topic_without_a_key() -> None:
    relay, producer = marked_relay(topic_prefix="t")
    relay.position = 42
    relay._mark(producer, now=100.0)  # type: ignore[arg-type]
    places = sorted((topic, message["partition"]) for topic, message in producer.sent)
    assert places == [(t, p) for t in sorted(relay.config.domain_topics()) for p in range(3)]
    assert "t.relay.dlq" not in {topic for topic, _ in producer.sent}
    for _, message in producer.sent:
        assert "key" not in message
        assert message["headers"] == [(WATERMARK_HEADER, b"42")]
        assert message["value"] == b"42"


def test_markers_follow_the_checkpoint_at_most_every_interval_and_beat_when_idle() -> None:
    relay, producer = marked_relay()
    relay.position = 10
    relay._mark(producer, now=100.0)  # type: ignore[arg-type]
    per_marker = len(producer.sent)

    def sent_at(now: float) -> bool:
        before = len(producer.sent)
        relay._mark(producer, now=now)  # type: ignore[arg-type]
        return len(producer.sent) > before

    relay.position = 20
    assert not sent_at(100.05)  # the checkpoint moved, but the last marker is too recent
    assert relay._marker_due_in(100.05) == pytest.approx(0.05)
    assert sent_at(100.1)
    assert not sent_at(100.5)  # nothing new: only a heartbeat, one poll interval later
    assert relay._marker_due_in(100.5) == pytest.approx(0.6)
    assert sent_at(101.1)
    assert len(producer.sent) == 3 * per_marker
    assert producer.metadata_calls == 1  # partition counts are cached


# -- the hot loop ------------------------------------------------------------------------------
class RecordingProducer:
    """Keeps what is produced; refuses the first produce with a full queue, as librdkafka may."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
        self.full_once = True

    def produce(self, topic: str, value: bytes, key: bytes, *, on_delivery: object,
                headers: list[tuple[str, bytes]]) -> None:
        if self.full_once:
            self.full_once = False
            raise BufferError("queue full")
        self.sent.append((topic, value, key, headers))

    def poll(self, _timeout: float) -> int:
        return 0


_MockRegistry = type(SchemaRegistryClient.new_client({"url": "mock://relay"}))


class MockRegistry(_MockRegistry):  # type: ignore[misc, valid-type]
    """confluent-kafka's in-memory registry, plus the compatibility call it lacks."""

    def set_compatibility(self, subject_name: str | None = None,
                          level: str | None = None) -> str | None:
        return level


def test_a_batch_goes_out_encoded_in_order_and_a_poison_event_to_the_dead_letters() -> None:
    registry = MockRegistry({"url": "mock://relay"})
    relay = Relay(Settings(), RelayConfig(topic_prefix="t"))
    relay._encoder = EventEncoder(registry)
    good, poison = stored(position=1), stored(position=2, colour="red")
    producer = RecordingProducer()

    sent = relay._send(producer, [row_of(good), row_of(poison)])  # type: ignore[arg-type]

    assert sent.last_position == 2 and sent.outstanding == 2
    assert sent.topics == {"t.course": 1, "t.relay.dlq": 1}
    (topic, value, key, headers), (dlq, letter, _, dlq_headers) = producer.sent
    assert topic == "t.course" and key == str(good.aggregate_id).encode()
    assert EventDecoder(registry).decode_event(value, topic) == good
    assert dict(headers) == {"event_id": str(good.event_id).encode(),
                             "event_type": b"course.module_added",
                             "correlation_id": str(good.correlation_id).encode()}
    assert dlq == "t.relay.dlq"
    assert json.loads(letter)["event"]["payload"]["colour"] == "red"
    assert b"colour" in dict(dlq_headers)["reason"]


def test_a_batch_read_ahead_is_used_only_where_the_next_read_starts() -> None:
    reads: list[int] = []

    def fetch(_conn: object, after: int) -> list[Row]:
        reads.append(after)
        return rows(after + 1, after + 2)

    with ThreadPoolExecutor(1) as pool:
        reader = _Reader(None, pool, fetch)  # type: ignore[arg-type]
        assert [r.position for r in reader.rows(0)] == [1, 2]
        reader.read_ahead(2)
        assert [r.position for r in reader.rows(2)] == [3, 4]  # the one read ahead
        reader.read_ahead(4)
        assert [r.position for r in reader.rows(0)] == [1, 2]  # not where it starts: read now
        reader.read_ahead(2)
        reader.discard()
    assert reads == [0, 2, 4, 0, 2]


# -- events Kafka cannot take ------------------------------------------------------------------
class LimitedProducer(RecordingProducer):
    """Refuses a message over `limit` bytes at produce, as librdkafka does."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.full_once = False
        self.limit = limit

    def produce(self, topic: str, value: bytes, key: bytes, *, on_delivery: object,
                headers: list[tuple[str, bytes]]) -> None:
        if len(value) > self.limit:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        super().produce(topic, value, key, on_delivery=on_delivery, headers=headers)


def large_and_small(registry: MockRegistry) -> tuple[Relay, StoredEvent, StoredEvent]:
    relay = Relay(Settings(), RelayConfig(topic_prefix="t",
                                          producer_overrides={"message.max.bytes": 5_000}))
    relay._encoder = EventEncoder(registry)
    big = stored(position=1, module_id=str(uuid4()), title="x" * 20_000, index=0)
    return relay, big, stored(position=2)


def test_an_event_larger_than_kafka_takes_goes_to_the_dead_letters_by_reference() -> None:
    registry = MockRegistry({"url": "mock://relay"})
    relay, big, small = large_and_small(registry)
    producer = LimitedProducer(limit=1_000_000)  # the relay's own limit catches it first

    sent = relay._send(producer, [row_of(big), row_of(small)])  # type: ignore[arg-type]

    assert sent.last_position == 2 and sent.topics == {"t.relay.dlq": 1, "t.course": 1}
    (dlq, letter, key, headers), (topic, value, _, _) = producer.sent
    assert dlq == "t.relay.dlq" and key == str(big.aggregate_id).encode()
    body = json.loads(letter)
    assert body["kind"] == "undeliverable" and body["bytes"] > 20_000
    assert body["event"]["position"] == 1 and body["event"]["event_id"] == str(big.event_id)
    assert len(letter) < 1_000  # a reference: the store keeps the event itself
    assert b"too large" in dict(headers)["reason"]
    assert EventDecoder(registry).decode_event(value, topic) == small


def test_a_message_the_producer_refuses_as_too_large_is_dead_lettered_not_fatal() -> None:
    registry = MockRegistry({"url": "mock://relay"})
    relay, big, small = large_and_small(registry)
    relay.config = RelayConfig(topic_prefix="t")  # its own check passes; librdkafka refuses
    producer = LimitedProducer(limit=10_000)

    sent = relay._send(producer, [row_of(big), row_of(small)])  # type: ignore[arg-type]

    assert [topic for topic, *_ in producer.sent] == ["t.relay.dlq", "t.course"]
    assert sent.outstanding == 2
    assert b"Message size too large" in dict(producer.sent[0][3])["reason"] or \
        b"MSG_SIZE_TOO_LARGE" in dict(producer.sent[0][3])["reason"]


def test_an_event_the_broker_refused_for_good_is_dead_lettered_when_sent_again() -> None:
    registry = MockRegistry({"url": "mock://relay"})
    relay, big, small = large_and_small(registry)
    relay.config = RelayConfig(topic_prefix="t")
    first = RecordingProducer()
    first.full_once = False
    batch = relay._send(first, [row_of(small)])  # type: ignore[arg-type]

    class Refused:
        def headers(self) -> list[tuple[str, bytes]]:
            return [("event_id", str(small.event_id).encode())]

    batch.on_delivery(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), Refused())
    with pytest.raises(DeliveryFailed):
        relay._settle(FakeConnection(), first, deque([batch]), keep=0)  # type: ignore[arg-type]

    again = RecordingProducer()
    again.full_once = False
    relay._send(again, [row_of(small)])  # type: ignore[arg-type]
    assert [topic for topic, *_ in again.sent] == ["t.relay.dlq"]
    relay._send(again, [row_of(small)])  # type: ignore[arg-type]
    assert [topic for topic, *_ in again.sent][-1] == "t.course"  # dead-lettered once only


class Delivered:
    """What librdkafka hands a delivery callback: where the message landed."""

    def __init__(self, topic: str, partition: int, key: bytes) -> None:
        self._where = (topic, partition, key)

    def topic(self) -> str:
        return self._where[0]

    def partition(self) -> int:
        return self._where[1]

    def key(self) -> bytes:
        return self._where[2]


def test_a_batch_knows_the_last_event_it_delivered_to_each_partition() -> None:
    batch = _Batch(last_position=14, outstanding=4, started=0.0,
                   last_of_key={b"a": 12, b"b": 14, b"c": 13})
    batch.on_delivery(None, Delivered("t.course", 0, b"a"))
    batch.on_delivery(None, Delivered("t.course", 0, b"c"))  # a later aggregate, same partition
    batch.on_delivery(None, Delivered("t.course", 3, b"b"))
    batch.on_delivery(None, Delivered("t.course", 0, b"a"))  # reports of one partition in order
    assert batch.outstanding == 0 and not batch.failures
    assert batch.heads == {("t.course", 0): 13, ("t.course", 3): 14}
