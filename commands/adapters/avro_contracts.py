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
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from uuid import UUID

from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro import parse_schema, schemaless_writer

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
WIRE_MAGIC = 0
WIRE_HEADER = struct.Struct(">BI")
CONFLICT = 409
# Seconds a registry request may take. The client's default is no limit at all: one request
# the registry never answers would hang an API, the relay or a worker for good.
REGISTRY_TIMEOUT = 10


class ContractError(ValueError):
    """An event does not fit its Avro contract (a poison event for the relay)."""


# -- names -------------------------------------------------------------------------------------
def registry_client(url: str, timeout: float = REGISTRY_TIMEOUT) -> SchemaRegistryClient:
    """A registry client whose requests give up after `timeout` seconds (the client tries
    a request again, with backoff, after a transport error or timeout)."""
    return SchemaRegistryClient({"url": url, "timeout": timeout})


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
    required: frozenset[str]  # the payload fields without a default
    renamed: tuple[_Field, ...]  # payload fields whose name the envelope takes
    doubles: tuple[_Field, ...]
    record_arrays: tuple[_Field, ...]  # arrays of records: their items are checked one by one


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
    return _Plan(
        fields=tuple(plan),
        names=frozenset(f.payload_name for f in plan),
        required=frozenset(f.payload_name for f in plan if f.required),
        renamed=tuple(f for f in plan if f.payload_name != f.avro_name),
        doubles=tuple(f for f in plan if f.is_double),
        record_arrays=tuple(f for f in plan if f.item_fields is not None),
    )


def _payload_name(avro_name: str) -> str:
    """The inverse of `contract_field`."""
    original = avro_name.removeprefix(RENAMED_PREFIX)
    return original if original != avro_name and original in ENVELOPE_FIELDS else avro_name


def envelope(event_id: str, event_type: str, aggregate_type: str, aggregate_id: str,
             version: int, position: int, occurred_at_us: int, actor: str | None,
             correlation_id: str, causation_id: str | None,
             schema_version: int) -> dict[str, Any]:
    """A record's envelope, in the forms the writer stores: ids as text, the time in
    microseconds since the epoch."""
    return {"event_id": event_id, "event_type": event_type, "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id, "aggregate_version": version, "position": position,
            "occurred_at": occurred_at_us, "actor": actor, "correlation_id": correlation_id,
            "causation_id": causation_id, "schema_version": schema_version}


def to_record(event: StoredEvent) -> dict[str, Any]:
    """The Avro record of a stored event; raises ContractError if the payload does not fit."""
    return build_record(event.event_type, envelope(
        str(event.event_id), event.event_type, event.aggregate_type, str(event.aggregate_id),
        event.version, event.position, (event.occurred_at - EPOCH) // MICROSECOND, event.actor,
        str(event.correlation_id),
        None if event.causation_id is None else str(event.causation_id), event.schema_version,
    ), event.payload)


def build_record(event_type: str, envelope: dict[str, Any],
                 payload: dict[str, Any]) -> dict[str, Any]:
    """The payload plus the envelope, checked against the contract (a new dict).

    Envelope values are given as the Avro writer stores them (UUIDs as text, `occurred_at` as
    microseconds): converting UUID and datetime objects inside fastavro costs more than the
    rest of the encoding, which matters to the relay. The checks are set operations on the
    keys, with per-field work only for the few fields that need it: this runs per event.
    """
    plan = _plan(event_type)
    keys = payload.keys()
    if not keys <= plan.names:
        raise ContractError(
            f"{event_type}: payload fields {sorted(keys - plan.names)} are not in the contract")
    if not plan.required <= keys:
        missing = next(f.payload_name for f in plan.fields
                       if f.required and f.payload_name not in payload)
        raise ContractError(f"{event_type}: payload lacks {missing!r}")
    record = {**payload, **envelope}  # absent optional fields: the writer fills the default
    for field in plan.renamed:
        if field.payload_name in payload:
            record[field.avro_name] = payload[field.payload_name]
    for field in plan.doubles:
        value = payload.get(field.payload_name)
        if type(value) is int:
            record[field.avro_name] = float(value)
    for field in plan.record_arrays:
        if field.payload_name in payload:
            _check_items(event_type, field, payload[field.payload_name])
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
    try:
        client.set_compatibility(subject, COMPATIBILITY)
    except SchemaRegistryError as error:
        # Another process set the rule first (Apicurio answers 409 when the rule exists):
        # not an error as long as the rule is the one we want.
        if error.http_status_code != CONFLICT or client.get_compatibility(
                subject) != COMPATIBILITY:
            raise
    avro = Schema(json.dumps(schema), "AVRO")
    try:
        return client.register_schema(subject, avro)
    except SchemaRegistryError as error:
        # 409 is an incompatible change, or another process registering the same schema at
        # the same moment: the latter is found by lookup, the former is raised.
        if error.http_status_code != CONFLICT:
            raise
        try:
            return client.lookup_schema(subject, avro).schema_id
        except SchemaRegistryError:
            raise error from None


def _value_context(topic: str) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


def wire_header(schema_id: int) -> bytes:
    """The Confluent wire format's prefix: magic byte 0, the schema id as 4 bytes big-endian."""
    return WIRE_HEADER.pack(WIRE_MAGIC, schema_id)


@dataclass(frozen=True)
class _Writer:
    """What encoding one event type needs, looked up once: the framing and the parsed schema."""

    header: bytes
    schema: Any  # fastavro's parsed form of the contract


class EventEncoder:
    """Stored events to Confluent-framed Avro: fastavro against each contract, framed with the
    id the registry gave it (registered once per event type, not looked up per event)."""

    def __init__(self, client: SchemaRegistryClient,
                 event_types: Iterable[str] | None = None) -> None:
        self.client = client
        self.event_types = list(event_types or contract_event_types())
        self._writers: dict[str, _Writer] = {}

    def register_all(self) -> dict[str, int]:
        """Register every contract (idempotent); fails fast on an incompatible change."""
        ids = {t: register(self.client, schema_of(t)) for t in self.event_types}
        for event_type, schema_id in ids.items():
            self._writers[event_type] = _writer(event_type, schema_id)
        return ids

    def _writer(self, event_type: str) -> _Writer:
        writer = self._writers.get(event_type)
        if writer is None:
            writer = _writer(event_type, register(self.client, schema_of(event_type)))
            self._writers[event_type] = writer
        return writer

    def encode_new(self, event: StoredEvent) -> bytes | None:
        """For the append transaction (the event store encodes what it appends, so the relay
        only reads and produces): never calls the registry, so None for a contract not
        registered yet, and None for an event that does not fit its contract; the relay then
        encodes it, or dead-letters it, as it does for any row stored without bytes."""
        writer = self._writers.get(event.event_type)
        if writer is None:
            return None
        out = BytesIO()
        out.write(writer.header)
        try:
            schemaless_writer(out, writer.schema, to_record(event))
        except (ContractError, ValueError, TypeError, AttributeError, OverflowError):
            return None
        return out.getvalue()

    def encode(self, event: StoredEvent, topic: str | None = None) -> bytes:
        """Raises ContractError for an event that does not fit its contract; registry errors
        (transient) pass through. The topic does not choose the schema (subjects are named by
        record), so it may be left out."""
        return self.encode_record(event.event_type, to_record(event))

    def encode_record(self, event_type: str, record: dict[str, Any]) -> bytes:
        """Encode a record made by `to_record` or `build_record`."""
        writer = self._writers.get(event_type) or self._writer(event_type)
        out = BytesIO()
        out.write(writer.header)
        try:
            schemaless_writer(out, writer.schema, record)
        except (ValueError, TypeError, AttributeError, OverflowError) as error:
            raise ContractError(f"{event_type}: {error}") from error
        return out.getvalue()


def _writer(event_type: str, schema_id: int) -> _Writer:
    return _Writer(wire_header(schema_id),
                   parse_schema(_without_logical_types(schema_of(event_type))))


def _without_logical_types(schema: Any) -> Any:
    """The schema minus its logical types. A logical type is written as its underlying type,
    so the bytes are the same, and records already hold that form (UUIDs as text, times as
    microseconds): this spares fastavro a conversion check per value."""
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_without_logical_types(v) for v in schema]
    return schema


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
