"""Stored events to rows of the ClickHouse fact table: pure, so live and rebuild agree.

The analytics columns (course, enrollment, student, lesson, score) come from the event alone,
never from a lookup: a course event's course is its aggregate, other events carry what their
payload names. Personal fields (marked in the contracts, privacy/personal.py) never reach
ClickHouse, not even sealed: the row's payload leaves them out, so analysts see ids only.
Enrollment progress names no course or student; the views resolve those through the
`enrollments` table (filled by `enrollment.created`), so no row waits on another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

from commands.adapters.event_store import StoredEvent
from privacy.personal import personal_event_types
from projections.analytics.consent import Consents
from projections.deliveries import EventDelivery, WatermarkDelivery

COLUMNS = (
    "event_id", "event_type", "aggregate_type", "aggregate_id", "version", "position",
    "occurred_at", "actor", "correlation_id", "causation_id", "schema_version",
    "course_id", "enrollment_id", "student_id", "lesson_id", "score", "max_score", "payload",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

Row = tuple[Any, ...]
Source = tuple[str, int]  # (topic, partition)
Incoming = StoredEvent | EventDelivery | WatermarkDelivery


def maybe_uuid(value: Any) -> int | None:
    """A payload id as the UUID's 128-bit integer (what the driver writes fastest; parsing
    with `UUID()` costs four times as much); anything else (absent, malformed) as None, so a
    derived column never turns an event into poison (the raw value stays in `payload`)."""
    if type(value) is str:
        return _uuid_int_of_text(value)
    return value.int if isinstance(value, UUID) else None


@lru_cache(maxsize=1 << 16)
def _uuid_int_of_text(value: str) -> int | None:
    """Cached: the same course, student and lesson ids come back event after event."""
    digits = value.replace("-", "")
    if len(digits) == 32 and digits.isascii() and digits.isalnum():
        try:
            return int(digits, 16)
        except ValueError:
            return None
    return None


def maybe_float(value: Any) -> float | None:
    kind = type(value)  # exact types: a bool is no score
    return float(value) if kind is float or kind is int else None


_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=str).encode


def payload_json(payload: Mapping[str, Any]) -> str:
    """Canonical JSON: sorted keys, and integral floats written as integers, because the store
    keeps `7` where Avro (double fields) hands the live path `7.0`; both must give one text."""
    for value in payload.values():
        if type(value) is float:
            payload = {k: int(v) if type(v) is float and v.is_integer() else v
                       for k, v in payload.items()}
            break
    return _dumps(payload)


_PERSONAL = {t: p.fields for t, p in personal_event_types().items()}


def without_personal_fields(event_type: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The payload minus its personal fields (the same mapping for most event types)."""
    personal = _PERSONAL.get(event_type)
    if personal is None:
        return payload
    return {k: v for k, v in payload.items() if k not in personal}


def micros(at: datetime) -> int:
    """Microseconds since the epoch: what DateTime64(6) stores (and the cheapest to send)."""
    return (at - EPOCH) // MICROSECOND


def to_row(event: StoredEvent) -> Row:
    """One fact row, in `COLUMNS` order; UUIDs as 128-bit integers. (The hot path: ~5 µs.)"""
    payload = event.payload
    kind = event.aggregate_type
    aggregate = event.aggregate_id.int
    causation = event.causation_id
    get = payload.get
    return (
        event.event_id.int, event.event_type, kind, aggregate, event.version, event.position,
        (event.occurred_at - EPOCH) // MICROSECOND, event.actor, event.correlation_id.int,
        None if causation is None else causation.int, event.schema_version,
        aggregate if kind == "course" else maybe_uuid(get("course_id")),
        aggregate if kind == "enrollment" else maybe_uuid(get("enrollment_id")),
        maybe_uuid(get("student_id")),
        maybe_uuid(get("lesson_id")),
        maybe_float(get("score")),
        maybe_float(get("max_score")),
        payload_json(without_personal_fields(event.event_type, payload)),
    )


@dataclass
class Batch:
    """What one insert carries: unique rows, the partition positions it moves, and a token
    that makes ClickHouse drop an identical redelivered insert."""

    rows: list[Row] = field(default_factory=list)
    positions: dict[Source, int] = field(default_factory=dict)
    duplicates: int = 0  # repeated within the batch
    skipped: int = 0  # at or below its partition's checkpoint: inserted before

    @property
    def token(self) -> str:
        """Derived from every event id (in order), not only the ends: an equal token must mean
        equal content, or ClickHouse would drop a different batch as a repeat."""
        digest = hashlib.blake2b(digest_size=16)
        for row in self.rows:
            digest.update(row[0].to_bytes(16))
        return f"analytics-{len(self.rows)}-{digest.hexdigest()}"


def prepare(items: Iterable[Incoming], checkpoints: Mapping[Source, int],
            consents: Consents | None = None) -> Batch:
    """Rows for the events not yet inserted, in arrival order, and the new positions; with
    `consents`, each event first reduced to what its users' analytics consent allows.

    An event from Kafka at or below its partition's checkpoint was inserted by an earlier
    acknowledged batch (a redelivery after a crash): it is skipped. Events from the store (no
    partition) are always written; the table's idempotence absorbs repeats.
    """
    batch = Batch()
    seen: set[int] = set()  # event ids as integers: hashing a UUID object costs more
    positions = batch.positions
    rows, remember = batch.rows, seen.add  # (the hot loop: bound once)
    for item in items:
        event: StoredEvent | None
        if type(item) is EventDelivery:
            event = item.event
            position = event.position
            source: Source | None = (None if item.topic is None or item.partition is None
                                     else (item.topic, item.partition))
        elif type(item) is WatermarkDelivery:
            event, position, source = None, item.position, (item.topic, item.partition)
        elif isinstance(item, StoredEvent):
            event, position, source = item, item.position, None
        else:
            raise TypeError(f"not an event or a delivery: {type(item).__name__}")
        if source is not None:
            if position <= checkpoints.get(source, -1):
                batch.skipped += event is not None
                continue
            if position > positions.get(source, -1):
                positions[source] = position
        if event is None:
            continue
        event_key = event.event_id.int
        if event_key in seen:
            batch.duplicates += 1
            continue
        remember(event_key)
        rows.append(to_row(event if consents is None else consents.reduce(event)))
    return batch
