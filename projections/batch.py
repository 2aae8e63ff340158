"""The version rule of ADR 0004 as a pure function: which events of a batch to apply.

For each aggregate the projection keeps the last applied version. An event is applied only if
it is the next one; an older one is a duplicate (a redelivery, or already applied by a replay)
and is skipped; a newer one means an event is missing, so the aggregate is parked. Once an
aggregate is parked its later events follow it into the dead letters, in order, while other
aggregates go on. A fold that raises parks its aggregate too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from projections.base import Change, Projection
from projections.deliveries import (
    AGGREGATE_PARKED,
    FOLD_FAILED,
    VERSION_GAP,
    DeadLetter,
    EventDelivery,
)


@dataclass(frozen=True, slots=True)
class Step:
    delivery: EventDelivery
    changes: list[Change]


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)  # to write, in delivery order
    dead_letters: list[DeadLetter] = field(default_factory=list)
    parked: dict[UUID, DeadLetter] = field(default_factory=dict)  # newly parked: first letter
    duplicates: int = 0
    ignored: int = 0


def plan_batch(projection: Projection, deliveries: Iterable[EventDelivery],
               applied: Mapping[UUID, int], parked: Collection[UUID]) -> Plan:
    """Decide, without I/O, what a batch does given the applied versions and parked
    aggregates (of the events' aggregates) as the database has them."""
    plan = Plan()
    versions: dict[UUID, int] = {}  # this batch's moves, over `applied` (not copied: large)
    for delivery in deliveries:
        event = delivery.event
        if not projection.handles(event):
            plan.ignored += 1
            continue
        aggregate = event.aggregate_id
        if aggregate in parked or aggregate in plan.parked:
            first = plan.parked.get(aggregate)
            detail = first.reason if first else "parked earlier"
            plan.dead_letters.append(DeadLetter(
                delivery, AGGREGATE_PARKED, f"aggregate {aggregate} is parked ({detail})"))
            continue
        current = versions.get(aggregate) or applied.get(aggregate, 0)
        if event.version <= current:
            plan.duplicates += 1
            continue
        if event.version > current + 1:
            _park(plan, DeadLetter(delivery, VERSION_GAP,
                                   f"expected version {current + 1}, got {event.version}"))
            continue
        try:
            changes = projection.fold(event)
        except Exception as error:  # noqa: BLE001 - a poison event: dead letter with the reason
            _park(plan, DeadLetter(delivery, FOLD_FAILED, f"{type(error).__name__}: {error}"))
            continue
        versions[aggregate] = event.version
        plan.steps.append(Step(delivery, changes))
    return plan


def _park(plan: Plan, letter: DeadLetter) -> None:
    plan.parked[letter.aggregate_id] = letter
    plan.dead_letters.append(letter)
