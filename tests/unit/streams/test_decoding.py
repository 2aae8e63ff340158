"""Kafka messages to sink deliveries, without services: markers, events, poison, and the
registry's own failures (which are not the message's fault and must propagate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import SerializationError

from commands.adapters.event_store import StoredEvent
from commands.adapters.relay import WATERMARK_HEADER
from projections.deliveries import EventDelivery, WatermarkDelivery
from streams.decoding import SharedDecoder, Undecodable, decode_message


def stored(aggregate_id: UUID) -> StoredEvent:
    return StoredEvent(
        position=42, event_id=uuid4(), aggregate_type="course", aggregate_id=aggregate_id,
        version=3, event_type="course.module_added", schema_version=1,
        payload={"module_id": str(uuid4()), "title": "Basics", "index": 1},
        occurred_at=datetime(2026, 5, 6, tzinfo=UTC), actor=None, correlation_id=uuid4(),
        causation_id=None)


@dataclass
class FakeDecoder:
    """Answers by the value: b"event" decodes; anything else raises `error`."""

    error: BaseException = field(default_factory=lambda: SerializationError("bad magic"))
    calls: int = 0

    def decode_event(self, data: bytes, topic: str) -> StoredEvent:
        self.calls += 1
        if data.startswith(b"event:"):
            return stored(UUID(data.removeprefix(b"event:").decode()))
        raise self.error


def decode(value: bytes | None, key: bytes | None = None, headers: object = None,
           decoder: FakeDecoder | None = None) -> object:
    return decode_message(decoder or FakeDecoder(), "p.course", 2, 17, key, value,
                          headers)  # type: ignore[arg-type]


def test_a_marker_is_a_watermark_whatever_its_value() -> None:
    assert decode(b"", headers=((WATERMARK_HEADER, b"1234"),)) == WatermarkDelivery(
        "p.course", 2, 1234)
    assert decode(None, headers={WATERMARK_HEADER: b"7"}) == WatermarkDelivery("p.course", 2, 7)


def test_a_marker_with_a_bad_position_is_poison_without_an_aggregate() -> None:
    poison = decode(b"x", headers=[(WATERMARK_HEADER, b"soon")])
    assert isinstance(poison, Undecodable)
    assert poison.aggregate_id is None and "bad position" in poison.error


def test_an_event_keeps_its_source() -> None:
    aggregate = uuid4()
    delivery = decode(f"event:{aggregate}".encode(), key=str(aggregate).encode(),
                      headers=[("event_id", b"x")])
    assert isinstance(delivery, EventDelivery)
    assert (delivery.topic, delivery.partition, delivery.offset) == ("p.course", 2, 17)
    assert delivery.event.aggregate_id == aggregate


@pytest.mark.parametrize("error", [SerializationError("Invalid magic byte"), EOFError("short"),
                                   ValueError("no contract"), KeyError("event_type"),
                                   SchemaRegistryError(404, 40403, "Schema 9 not found")])
def test_bad_bytes_are_poison_parking_the_key_aggregate(error: BaseException) -> None:
    aggregate = uuid4()
    poison = decode(b"\x13garbage", key=str(aggregate).encode(),
                    decoder=FakeDecoder(error=error))
    assert isinstance(poison, Undecodable)
    assert poison.aggregate_id == aggregate and poison.value == b"\x13garbage"
    assert poison.error.startswith(type(error).__name__)


@pytest.mark.parametrize("key", [None, b"", b"not-a-uuid", b"\xff\xfe"])
def test_a_key_that_is_no_aggregate_id_parks_nothing(key: bytes | None) -> None:
    poison = decode(b"garbage", key=key)
    assert isinstance(poison, Undecodable) and poison.aggregate_id is None


def test_a_message_without_a_value_is_poison() -> None:
    poison = decode(None, key=str(uuid4()).encode())
    assert isinstance(poison, Undecodable) and poison.error == "message has no value"


@pytest.mark.parametrize("error", [SchemaRegistryError(503, 50301, "unavailable"),
                                   ConnectionRefusedError("registry down")])
def test_a_registry_failure_is_not_the_message_fault(error: BaseException) -> None:
    with pytest.raises(type(error)):
        decode(b"\x00\x00\x00\x00\x01x", decoder=FakeDecoder(error=error))


@dataclass(eq=False)  # hashed by identity, as Faust's messages
class Message:
    value: bytes
    topic: str = "p.course"
    partition: int = 0
    offset: int = 5
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def test_each_message_is_decoded_once_for_all_projections() -> None:
    decoder = FakeDecoder()
    made: list[FakeDecoder] = []
    shared = SharedDecoder(lambda: made.append(decoder) or decoder)  # type: ignore[func-returns-value]
    aggregate = uuid4()
    message = Message(f"event:{aggregate}".encode())
    first = shared(message)  # type: ignore[arg-type]
    assert shared(message) is first  # type: ignore[arg-type]
    assert decoder.calls == 1 and len(made) == 1  # the decoder is made on first use
    twin = Message(message.value)  # same bytes, another message: decoded on its own
    assert shared(twin) is not first and decoder.calls == 2  # type: ignore[arg-type]
