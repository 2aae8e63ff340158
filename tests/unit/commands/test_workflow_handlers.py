"""Workflow commands through the bus: the platform's own actor only, idempotent, correlated."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from commands import messages as m
from commands.bus import CommandBus
from commands.domain.errors import Conflict, Forbidden
from commands.messages import Actor
from tests.unit.commands.fake_event_store import FakeEventStore

SYSTEM = Actor(uuid4(), "system")


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_only_the_platform_runs_workflows(role: str) -> None:
    bus = CommandBus(FakeEventStore())

    with pytest.raises(Forbidden):
        asyncio.run(bus.execute(m.StartWorkflow(uuid4(), "publishing", uuid4(), 1),
                                Actor(uuid4(), role)))


def test_a_run_is_recorded_once_with_its_cause() -> None:
    store = FakeEventStore()
    bus = CommandBus(store)
    workflow, course, cause, correlation = uuid4(), uuid4(), uuid4(), uuid4()

    async def scenario() -> None:
        for _ in range(2):  # the process manager repeats itself after a restart
            await bus.execute(m.StartWorkflow(workflow, "publishing", course, 1), SYSTEM,
                              correlation_id=correlation, causation_id=cause)
            await bus.execute(m.RecordContentChunked(workflow, "sentences-v1/100/20", 2,
                                                     "ab" * 32, []), SYSTEM, correlation, cause)
            await bus.execute(m.CompleteWorkflow(workflow, 2), SYSTEM, correlation, cause)

    asyncio.run(scenario())

    events = [e for e in store.events if e.aggregate_id == workflow]
    assert [e.event_type for e in events] == [
        "workflow.started", "content.chunked", "workflow.completed"]
    assert {(e.aggregate_type, e.correlation_id, e.causation_id) for e in events} == {
        ("workflow", correlation, cause)}
    assert events[1].payload["course_id"] == str(course)


def test_a_failed_run_is_recorded_once() -> None:
    store = FakeEventStore()
    bus = CommandBus(store)
    workflow = uuid4()

    async def scenario() -> None:
        await bus.execute(m.StartWorkflow(workflow, "publishing", uuid4(), 1), SYSTEM)
        for _ in range(2):
            await bus.execute(m.FailWorkflow(workflow, "embed", "model down", 4), SYSTEM)

    asyncio.run(scenario())

    assert [e.event_type for e in store.events] == ["workflow.started", "workflow.failed"]
    assert store.events[-1].payload["reason"] == "model down"


def published_course(bus: CommandBus, workflow: object) -> object:
    teacher = Actor(uuid4(), "instructor")
    course, module = uuid4(), uuid4()

    async def scenario() -> None:
        await bus.execute(m.CreateCourse(course, "Streams"), teacher)
        await bus.execute(m.AddModule(course, module, "Basics"), teacher)
        await bus.execute(m.AddLesson(course, module, uuid4(), "One", "text"), teacher)
        await bus.execute(m.PublishCourse(course, workflow), teacher)
        await bus.execute(m.StartWorkflow(workflow, "publishing", course, 1), SYSTEM)

    asyncio.run(scenario())
    return course


@pytest.mark.parametrize("role", ["student", "instructor", "analyst"])
def test_only_admins_cancel_a_run(role: str) -> None:
    bus = CommandBus(FakeEventStore())
    workflow = uuid4()
    published_course(bus, workflow)

    with pytest.raises(Forbidden):
        asyncio.run(bus.execute(m.CancelWorkflow(workflow, "stuck"), Actor(uuid4(), role)))


def test_a_cancelled_run_fails_and_its_course_is_a_draft_again_in_one_commit() -> None:
    store = FakeEventStore()
    bus = CommandBus(store)
    workflow = uuid4()
    course = published_course(bus, workflow)
    admin = Actor(uuid4(), "admin")

    result = asyncio.run(bus.execute(m.CancelWorkflow(workflow, "embedding stuck"), admin))

    last = store.events[-2:]
    assert [(e.aggregate_id, e.event_type) for e in last] == [
        (workflow, "workflow.failed"), (course, "course.reverted_to_draft")]
    assert last[0].payload["step"] == "cancelled"
    assert last[0].payload["reason"] == "cancelled by an operator: embedding stuck"
    assert result.position == last[-1].position
    with pytest.raises(Conflict) as ended:  # a second cancel: the run is over
        asyncio.run(bus.execute(m.CancelWorkflow(workflow, "again"), admin))
    assert ended.value.code == "workflow.not_running"
