"""Turns domain events into storable envelopes and back, exactly (UUIDs stay UUIDs).

Payload fields are decoded by the type hints of the event class, so replaying stored events
rebuilds the very state the live command produced.
"""

from __future__ import annotations

import typing
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from commands.domain.registry import AGGREGATES, EVENT_CLASSES, EVENT_TYPES

LIBRARY_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def event_type_of(event: Aggregate.Event) -> str:
    return EVENT_TYPES[type(event)]


def payload_of(event: Aggregate.Event) -> dict[str, Any]:
    """The event's own fields as JSON-ready values."""
    return {
        name: _to_json(value)
        for name, value in vars(event).items()
        if name not in LIBRARY_FIELDS
    }


def _to_json(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple | frozenset | set):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


@cache
def _payload_hints(event_type: str) -> dict[str, Any]:
    cls = EVENT_CLASSES[event_type]
    hints = typing.get_type_hints(cls)
    return {name: hints[name] for name in cls.__annotations__ if name not in LIBRARY_FIELDS}


def _from_json(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if hint is UUID:
        return UUID(value)
    if typing.get_origin(hint) is list and typing.get_args(hint)[0] is UUID:
        return [UUID(v) for v in value]
    if hint is float:
        return float(value)
    return value


def decode_event(
    event_type: str, aggregate_id: UUID, version: int, occurred_at: datetime,
    payload: dict[str, Any],
) -> Aggregate.Event:
    """Rebuild the domain event (for folding into an aggregate) from its stored form."""
    cls = EVENT_CLASSES[event_type]
    fields = {
        name: _from_json(hint, payload.get(name))
        for name, hint in _payload_hints(event_type).items()
    }
    if issubclass(cls, Aggregate.Created):
        fields["originator_topic"] = get_topic(AGGREGATES[event_type.split(".")[0]])
    return cls(originator_id=aggregate_id, originator_version=version, timestamp=occurred_at,
               **fields)
