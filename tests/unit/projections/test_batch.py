"""The version rule (ADR 0004) as the planner applies it: next version applied, older ones
skipped, a gap or a poison event parks the aggregate and its later events follow it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement
from projections.batch import plan_batch
from projections.deliveries import (
    AGGREGATE_PARKED,
    FOLD_FAILED,
    VERSION_GAP,
    EventDelivery,
)

NOTE = Statement("test.note", "SELECT %(v)s")


def fold(event: StoredEvent) -> list[Change]:
    if event.payload.get("poison"):
        raise ValueError("cannot fold this")
    return [Change(NOTE, {"v": event.version})]


PROJECTION = Projection("test", ("course",), "", (), fold)


def event(aggregate: UUID, version: int, position: int, **payload: object) -> EventDelivery:
    return EventDelivery(StoredEvent(
        position=position, event_id=uuid4(), aggregate_type="course", aggregate_id=aggregate,
        version=version, event_type="course.noted", schema_version=1, payload=dict(payload),
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC), actor=None, correlation_id=uuid4(),
        causation_id=None), "smartcourse.course", 0, position)


def test_each_aggregate_advances_one_version_at_a_time() -> None:
    a, b = uuid4(), uuid4()
    batch = [event(a, 3, 10), event(b, 1, 11), event(a, 4, 12), event(a, 4, 12)]

    plan = plan_batch(PROJECTION, batch, applied={a: 2}, parked=set())

    assert [s.delivery for s in plan.steps] == batch[:3]
    assert (plan.duplicates, plan.dead_letters) == (1, [])


def test_already_applied_versions_are_duplicates() -> None:
    a = uuid4()

    plan = plan_batch(PROJECTION, [event(a, 1, 1), event(a, 2, 2)], applied={a: 2}, parked=())

    assert (plan.steps, plan.duplicates) == ([], 2)


def test_a_gap_parks_the_aggregate_and_its_later_events_follow() -> None:
    a, b = uuid4(), uuid4()
    batch = [event(a, 3, 10), event(b, 1, 11), event(a, 4, 12)]

    plan = plan_batch(PROJECTION, batch, applied={a: 1}, parked=set())

    assert [s.delivery for s in plan.steps] == [batch[1]]
    assert [(x.delivery, x.reason) for x in plan.dead_letters] == [
        (batch[0], VERSION_GAP), (batch[2], AGGREGATE_PARKED)]
    assert plan.dead_letters[0].error == "expected version 2, got 3"
    assert set(plan.parked) == {a}


def test_a_fold_that_raises_is_a_dead_letter_and_the_batch_goes_on() -> None:
    a, b = uuid4(), uuid4()
    batch = [event(a, 1, 1, poison=True), event(b, 1, 2), event(a, 2, 3)]

    plan = plan_batch(PROJECTION, batch, applied={}, parked=set())

    assert [s.delivery for s in plan.steps] == [batch[1]]
    assert [x.reason for x in plan.dead_letters] == [FOLD_FAILED, AGGREGATE_PARKED]
    assert plan.dead_letters[0].error == "ValueError: cannot fold this"
    assert plan.dead_letters[0].describe()["offset"] == 1


def test_an_aggregate_parked_earlier_stays_parked() -> None:
    a = uuid4()

    plan = plan_batch(PROJECTION, [event(a, 2, 5)], applied={a: 1}, parked={a})

    assert plan.steps == [] and [x.reason for x in plan.dead_letters] == [AGGREGATE_PARKED]
    assert plan.parked == {}  # already recorded


def test_events_of_other_aggregate_types_are_ignored() -> None:
    other = event(uuid4(), 1, 1)
    other = replace(other, event=replace(other.event, aggregate_type="user"))

    plan = plan_batch(PROJECTION, [other], applied={}, parked=set())

    assert (plan.steps, plan.ignored) == ([], 1)
