"""The Avro contracts of the events on Kafka: one schema per event type, in `schemas/avro/`.

A record is the envelope (ids, versions, global position, metadata) followed by the event's
own payload fields, flat. A payload field whose name is taken by the envelope (the `position`
of a module or lesson) is carried as `payload_<name>`. Subjects are named by record
(`smartcourse.events.CoursePublished`), so the several event types on one topic per aggregate
type each evolve on their own, under BACKWARD compatibility. Messages use the Confluent wire
format (magic byte, schema id, Avro body).

`from_record` gives back the very `StoredEvent` the event store holds, so a consumer can feed
the same projection functions as a replay from the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from commands.adapters.event_store import StoredEvent
from smartcourse.settings import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "schemas" / "avro"
NAMESPACE = "smartcourse.events"
TOPIC_PREFIX = "smartcourse"
COMPATIBILITY = "BACKWARD"
ENVELOPE_FIELDS = (
    "event_id", "event_type", "aggregate_type", "aggregate_id", "aggregate_version", "position",
    "occurred_at", "actor", "correlation_id", "causation_id", "schema_version",
)
RENAMED_PREFIX = "payload_"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class ContractError(ValueError):
    """An event does not fit its Avro contract (a poison event for the relay)."""


# -- names -------------------------------------------------------------------------------------
def record_name(event_type: str) -> str:
    """`course.seat_reserved` -> `CourseSeatReserved`."""
    return "".join(word.capitalize() for part in event_type.split(".") for word in part.split("_"))


def subject_name(event_type: str) -> str:
    """The registry subject (record name strategy): the record's full name."""
    return f"{NAMESPACE}.{record_name(event_type)}"


def topic_name(aggregate_type: str, prefix: str = TOPIC_PREFIX) -> str:
    """One topic per aggregate type, keyed by aggregate id: an aggregate's events stay in order."""
    return f"{prefix}.{aggregate_type}"


def contract_field(payload_field: str) -> str:
    """The record field that carries a payload field."""
    return RENAMED_PREFIX + payload_field if payload_field in ENVELOPE_FIELDS else payload_field


# -- schemas -----------------------------------------------------------------------------------
def schema_path(event_type: str, schema_dir: Path = SCHEMA_DIR) -> Path:
    return schema_dir / f"{event_type}.avsc"


@cache
def schema_of(event_type: str) -> dict[str, Any]:
    """The contract of one event type, as parsed JSON."""
    path = schema_path(event_type)
    if not path.exists():
        raise ContractError(f"no Avro contract for {event_type!r} (expected {path})")
    return json.loads(path.read_text())


def contract_event_types(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Every event type that has a contract file."""
    return sorted(p.name.removesuffix(".avsc") for p in schema_dir.glob("*.avsc"))


def payload_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's fields after the envelope."""
    return [f for f in schema["fields"] if f["name"] not in ENVELOPE_FIELDS]


# -- StoredEvent <-> Avro record ---------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    """How one payload field maps to its record field (precomputed once per event type)."""

    avro_name: str
    payload_name: str
    required: bool  # no default in the contract
    is_double: bool
    item_fields: frozenset[str] | None  # for an array of records: the allowed keys
    item_required: frozenset[str]


@dataclass(frozen=True)
class _Plan:
    fields: tuple[_Field, ...]
    names: frozenset[str]  # the payload fields the contract knows


@cache
def _plan(event_type: str) -> _Plan:
    plan = []
    for field in payload_fields(schema_of(event_type)):
        name = field["name"]
        ftype = field["type"]
        items = ftype.get("items") if isinstance(ftype, dict) else None
        record = items if isinstance(items, dict) and items.get("type") == "record" else None
        item_fields = record["fields"] if record else []
        plan.append(_Field(
            avro_name=name,
            payload_name=_payload_name(name),
            required="default" not in field,
            is_double=ftype == "double",
            item_fields=frozenset(f["name"] for f in item_fields) if record else None,
            item_required=frozenset(f["name"] for f in item_fields if "default" not in f),
        ))
    return _Plan(tuple(plan), frozenset(f.payload_name for f in plan))


def _payload_name(avro_name: str) -> str:
    """The inverse of `contract_field`."""
    original = avro_name.removeprefix(RENAMED_PREFIX)
    return original if original != avro_name and original in ENVELOPE_FIELDS else avro_name


def to_record(event: StoredEvent) -> dict[str, Any]:
    """The Avro record of a stored event; raises ContractError if the payload does not fit."""
    envelope = {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": str(event.aggregate_id),
        "aggregate_version": event.version,
        "position": event.position,
        "occurred_at": (event.occurred_at - EPOCH) // MICROSECOND,
        "actor": event.actor,
        "correlation_id": str(event.correlation_id),
        "causation_id": None if event.causation_id is None else str(event.causation_id),
        "schema_version": event.schema_version,
    }
    return build_record(event.event_type, envelope, event.payload)


def build_record(event_type: str, envelope: dict[str, Any],
                 payload: dict[str, Any]) -> dict[str, Any]:
    """The envelope (filled in place) plus the payload, checked against the contract.

    Envelope values are given as the Avro writer stores them (UUIDs as text, `occurred_at` as
    microseconds): converting UUID and datetime objects inside fastavro costs more than the
    rest of the encoding, which matters to the relay.
    """
    plan = _plan(event_type)
    if not payload.keys() <= plan.names:
        unknown = payload.keys() - plan.names
        raise ContractError(
            f"{event_type}: payload fields {sorted(unknown)} are not in the contract")
    record = envelope
    for field in plan.fields:
        if field.payload_name not in payload:
            if field.required:
                raise ContractError(f"{event_type}: payload lacks {field.payload_name!r}")
            continue  # the writer fills in the contract's default
        value = payload[field.payload_name]
        if field.is_double and isinstance(value, int):
            value = float(value)
        elif field.item_fields is not None:
            _check_items(event_type, field, value)
        record[field.avro_name] = value
    return record


def _check_items(event_type: str, field: _Field, items: Any) -> None:
    assert field.item_fields is not None
    if not isinstance(items, list):
        raise ContractError(f"{event_type}: {field.payload_name} must be a list")
    for item in items:
        if not isinstance(item, dict):
            raise ContractError(f"{event_type}: each of {field.payload_name} must be an object")
        if unknown := item.keys() - field.item_fields:
            raise ContractError(
                f"{event_type}: an item of {field.payload_name} has unknown keys {sorted(unknown)}")
        if missing := field.item_required - item.keys():
            raise ContractError(
                f"{event_type}: an item of {field.payload_name} lacks {sorted(missing)}")


def from_record(record: dict[str, Any]) -> StoredEvent:
    """The stored event back from a decoded record: payload values as JSON (UUIDs as text)."""
    plan = _plan(record["event_type"]).fields
    causation = record["causation_id"]
    return StoredEvent(
        position=record["position"],
        event_id=_uuid(record["event_id"]),
        aggregate_type=record["aggregate_type"],
        aggregate_id=_uuid(record["aggregate_id"]),
        version=record["aggregate_version"],
        event_type=record["event_type"],
        schema_version=record["schema_version"],
        payload={f.payload_name: _to_json(record[f.avro_name])
                 for f in plan if f.avro_name in record},
        occurred_at=record["occurred_at"],
        actor=record["actor"],
        correlation_id=_uuid(record["correlation_id"]),
        causation_id=None if causation is None else _uuid(causation),
    )


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _to_json(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


# -- the registry and the wire format ----------------------------------------------------------
def register(client: SchemaRegistryClient, schema: dict[str, Any]) -> int:
    """Register a contract under its record-name subject with BACKWARD compatibility.

    The level is set before registering, so even the first evolution of a new subject is
    checked. Raises SchemaRegistryError (HTTP 409) for an incompatible change.
    """
    subject = f"{schema.get('namespace', NAMESPACE)}.{schema['name']}"
    client.set_compatibility(subject, COMPATIBILITY)
    return client.register_schema(subject, Schema(json.dumps(schema), "AVRO"))


def _value_context(topic: str) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


class EventEncoder:
    """Stored events to Confluent-framed Avro, one serializer per event type."""

    def __init__(self, client: SchemaRegistryClient,
                 event_types: Iterable[str] | None = None) -> None:
        self.client = client
        self.event_types = list(event_types or contract_event_types())
        self._serializers: dict[str, AvroSerializer] = {}

    def register_all(self) -> dict[str, int]:
        """Register every contract (idempotent); fails fast on an incompatible change."""
        return {t: register(self.client, schema_of(t)) for t in self.event_types}

    def _serializer(self, event_type: str) -> AvroSerializer:
        serializer = self._serializers.get(event_type)
        if serializer is None:
            serializer = AvroSerializer(
                self.client, json.dumps(schema_of(event_type)),
                conf={"subject.name.strategy": record_subject_name_strategy},
            )
            self._serializers[event_type] = serializer
        return serializer

    def encode(self, event: StoredEvent, topic: str) -> bytes:
        """Raises ContractError for an event that does not fit its contract; registry errors
        (transient) pass through."""
        return self.encode_record(event.event_type, to_record(event), topic)

    def encode_record(self, event_type: str, record: dict[str, Any], topic: str) -> bytes:
        """Encode a record made by `to_record` or `build_record`."""
        try:  # a SchemaRegistryError (not a ValueError) is transient and passes through
            data = self._serializer(event_type)(record, _value_context(topic))
        except (ValueError, TypeError, AttributeError, OverflowError) as error:
            raise ContractError(f"{event_type}: {error}") from error
        assert data is not None
        return data


class EventDecoder:
    """Confluent-framed Avro back to records or stored events (for consumers)."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        self._deserializer = AvroDeserializer(
            client, conf={"subject.name.strategy": record_subject_name_strategy})

    def decode(self, data: bytes, topic: str) -> dict[str, Any]:
        """The record with UUIDs as UUID and `occurred_at` as an aware datetime."""
        record = self._deserializer(data, _value_context(topic))
        assert isinstance(record, dict)
        return record

    def decode_event(self, data: bytes, topic: str) -> StoredEvent:
        return from_record(self.decode(data, topic))
