"""Kafka messages to what the sink takes: events, the relay's watermark markers, or poison.

A message that cannot be decoded is poison only if the fault is in its bytes (bad framing, a
schema id the registry does not know, a record that fits no contract); a registry that cannot
be reached is not the message's fault, so those errors propagate and the batch is retried.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import SerializationError

from commands.adapters.avro_contracts import EventDecoder
from commands.adapters.relay import WATERMARK_HEADER
from projections.deliveries import EventDelivery, WatermarkDelivery

# What decoding bad bytes raises (fastavro, the Confluent framing, our contracts).
_BAD_BYTES = (SerializationError, EOFError, ValueError, TypeError, KeyError, IndexError,
              AttributeError, AssertionError, OverflowError)


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A message that is neither an event nor a marker: it goes to the dead letters, and its
    key's aggregate (if the key is an aggregate id) is parked behind it."""

    topic: str
    partition: int
    offset: int
    aggregate_id: UUID | None
    value: bytes | None
    error: str


Decoded = EventDelivery | WatermarkDelivery | Undecodable
Headers = Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None  # aiokafka: tuples


class Message(Protocol):
    """What decoding needs of a Kafka message (Faust's `Message` has it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers


class SharedDecoder:
    """Decodes each message once for every projection that reads it.

    Faust hands one `Message` object to every stream subscribed to its topic, so the result
    is kept per object, weakly: it goes when the last stream has let go of the message.
    Decoding (Avro through the registry client) is the worker's largest CPU cost after the
    sink, and most messages feed four projections.
    """

    def __init__(self, decoder: Callable[[], EventDecoder]) -> None:
        self._factory = decoder
        self._decoder: EventDecoder | None = None
        self._memo: weakref.WeakKeyDictionary[Message, Decoded] = weakref.WeakKeyDictionary()

    def __call__(self, message: Message) -> Decoded:
        found = self._memo.get(message)
        if found is None:
            if self._decoder is None:
                self._decoder = self._factory()
            found = decode_message(self._decoder, message.topic, message.partition,
                                   message.offset, message.key, message.value, message.headers)
            self._memo[message] = found
        return found


def decode_message(decoder: EventDecoder, topic: str, partition: int, offset: int,
                   key: bytes | None, value: bytes | None, headers: Headers) -> Decoded:
    """One message, classified; raises only for faults outside the message (transient)."""
    marker = _header(headers, WATERMARK_HEADER)
    if marker is not None:
        try:
            return WatermarkDelivery(topic, partition, int(marker))
        except ValueError:
            return Undecodable(topic, partition, offset, None, value,
                               f"watermark marker with a bad position {marker[:40]!r}")
    aggregate_id = _aggregate_id(key)
    if value is None:
        return Undecodable(topic, partition, offset, aggregate_id, None, "message has no value")
    try:
        event = decoder.decode_event(value, topic)
    except SchemaRegistryError as error:
        if not 400 <= error.http_status_code < 500:
            raise  # the registry failed, not the message
        return Undecodable(topic, partition, offset, aggregate_id, value, _describe(error))
    except _BAD_BYTES as error:
        return Undecodable(topic, partition, offset, aggregate_id, value, _describe(error))
    return EventDelivery(event, topic, partition, offset)


def _header(headers: Headers, name: str) -> bytes | None:
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key == name:
            return value
    return None


def _aggregate_id(key: bytes | None) -> UUID | None:
    """The aggregate a message belongs to, from its key (the relay keys by aggregate id)."""
    if not key:
        return None
    try:
        return UUID(key.decode())
    except (UnicodeDecodeError, ValueError):
        return None


def _describe(error: BaseException) -> str:
    text = str(error).strip() or "(no detail)"
    return f"{type(error).__name__}: {text}"[:2000]
