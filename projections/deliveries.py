"""What the sink is handed (events and watermark markers) and what it hands back (dead letters).

A delivery from Kafka names its source (topic, partition, offset); one from the event store
(a replay, a dead letter being retried) has none, and moves no partition position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from commands.adapters.event_store import StoredEvent

# Why an event went to the dead letters (the `reason` of a DeadLetter): stable codes.
FOLD_FAILED = "fold_failed"  # the projection's fold raised
WRITE_FAILED = "write_failed"  # its changes were refused by PostgreSQL
VERSION_GAP = "version_gap"  # it is not the next version of its aggregate: one is missing
AGGREGATE_PARKED = "aggregate_parked"  # an earlier event of its aggregate is a dead letter
UNDECODABLE = "undecodable"  # the consumer could not decode it (see PostgresProjector.park)


@dataclass(frozen=True, slots=True)
class EventDelivery:
    event: StoredEvent
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class WatermarkDelivery:
    """The relay's marker: every event up to `position` has been published to this partition."""

    topic: str
    partition: int
    position: int


Delivery = EventDelivery | WatermarkDelivery


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event the projection could not apply, and why; its aggregate is parked."""

    delivery: EventDelivery
    reason: str  # one of the codes above
    error: str  # human-readable detail

    @property
    def aggregate_id(self) -> UUID:
        return self.delivery.event.aggregate_id

    def describe(self) -> dict[str, Any]:
        """JSON-ready fields for the dead-letter topic's headers or value."""
        event, delivery = self.delivery.event, self.delivery
        return {
            "reason": self.reason, "error": self.error, "event_id": str(event.event_id),
            "event_type": event.event_type, "aggregate_id": str(event.aggregate_id),
            "version": event.version, "position": event.position, "topic": delivery.topic,
            "partition": delivery.partition, "offset": delivery.offset,
        }


@dataclass
class BatchResult:
    """What one batch did. `dead_letters` are in delivery order, ready for the DLQ topic."""

    projection: str
    version: int  # the version schema written (the live one, for the sink)
    applied: int = 0
    duplicates: int = 0  # already applied: redeliveries, or events the replay applied first
    ignored: int = 0  # events of aggregate types the projection does not read
    dead_letters: list[DeadLetter] = field(default_factory=list)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition)
