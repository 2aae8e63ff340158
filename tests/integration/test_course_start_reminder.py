"""The "course starting soon" reminder against real PostgreSQL and Mailpit, in a database of
the module's own (its timers are the test's alone), with the clock injected into `fire_due`:
scheduled a lead time before the course's start, fired once (also by a workflow opened
anew, as after a restart), moved with the start date, ended by a cancellation, and never
for a start already past."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from commands import messages as m
from notifications.wiring import open_processes
from smartcourse.settings import Settings
from tests.integration.test_enrollment_workflow import drive, events_after, student
from tests.support.mailpit import Mailbox

pytestmark = pytest.mark.integration
LEAD = timedelta(hours=48)


@pytest.fixture(scope="module")
def own(stack: Settings) -> Iterator[Settings]:
    database = f"test_course_start_{uuid4().hex[:10]}"
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    try:
        yield Settings(pg_dsn=stack.pg_dsn.rsplit("/", 1)[0] + "/" + database,
                       reminder_inactive_days=30, course_start_reminder_hours=48)
    finally:
        with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


async def course_starting(bus: Any, teacher: m.Actor, starts: datetime | None) -> UUID:
    course, module = uuid4(), uuid4()
    await bus.execute(m.CreateCourse(course, "Stream processing", capacity=10,
                                     starts_at=starts.isoformat() if starts else None), teacher)
    await bus.execute(m.AddModule(course, module, "Basics"), teacher)
    await bus.execute(m.AddLesson(course, module, uuid4(), "Lesson 0", "text"), teacher)
    await bus.execute(m.PublishCourse(course, uuid4()), teacher)
    return course


async def timers(p: Any, enrollment: UUID) -> list[tuple[str, datetime, str]]:
    async with p.side.pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT kind, due_at, state FROM enrollment_workflow.timers WHERE enrollment_id = %s"
            " AND kind = 'course_start' ORDER BY position", [enrollment])).fetchall()
    return [tuple(row) for row in rows]


def starting_soon(mailpit: str, email: str) -> list[dict[str, Any]]:
    return [msg for msg in Mailbox(mailpit).to(email) if msg["Subject"].endswith("starts soon")]


def test_the_starting_soon_reminder_fires_once_before_the_start_even_after_a_restart(
        own: Settings) -> None:
    teacher = m.Actor(uuid4(), "instructor")
    starts = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)

    async def scenario() -> None:
        async with open_processes(own) as p:
            course = await course_starting(p.side.bus, teacher, starts)
            ada, email = await student(p.side.bus, "Ada")
            head = events_after(own, 0)[-1].position
            enrolled = await p.side.bus.execute(m.EnrollStudent(course, ada.user_id), ada)
            seen = await drive(p, own, head)
            eid = enrolled.aggregate_id
            assert await timers(p, eid) == [("course_start", starts - LEAD, "SCHEDULED")]
            assert await p.workflow.fire_due(starts - LEAD - timedelta(minutes=1)) == 0
        # A workflow opened anew (the worker restarted): the timer is durable.
        async with open_processes(own) as p:
            due = starts - LEAD + timedelta(minutes=1)
            assert await p.workflow.fire_due(due) == 1
            assert await p.workflow.fire_due(due + timedelta(hours=1)) == 0
            fired = await drive(p, own, seen[-1].position)
            kinds = [e.payload["kind"] for e in fired
                     if e.event_type == "enrollment.reminder_fired" and e.aggregate_id == eid]
            assert kinds == ["course_start"]
            (mail,) = [msg for msg in Mailbox(own.mailpit_url).wait_for(email, 2)
                       if msg["Subject"] != "Welcome to Stream processing"]
            assert mail["Subject"] == "Stream processing starts soon"
            body = Mailbox(own.mailpit_url).message(mail["ID"])
            assert f"{starts:%Y-%m-%d %H:%M} UTC" in body["Text"]
            await p.workflow.handle_all(fired)  # redelivered: nothing sent again
            await p.sender.handle_all(fired)
            await p.sender.deliver_due()
            assert len(starting_soon(own.mailpit_url, email)) == 1

    asyncio.run(scenario())


def test_the_reminder_moves_with_the_start_date_and_ends_with_a_cancellation(
        own: Settings) -> None:
    teacher = m.Actor(uuid4(), "instructor")
    starts = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    later = starts + timedelta(days=3)

    async def scenario() -> None:
        async with open_processes(own) as p:
            course = await course_starting(p.side.bus, teacher, starts)
            bo, bo_email = await student(p.side.bus, "Bo")
            cy, _ = await student(p.side.bus, "Cy")
            head = events_after(own, 0)[-1].position
            moving = await p.side.bus.execute(m.EnrollStudent(course, bo.user_id), bo)
            leaving = await p.side.bus.execute(m.EnrollStudent(course, cy.user_id), cy)
            seen = await drive(p, own, head)

            await p.side.bus.execute(m.SetCourseStart(course, later.isoformat()), teacher)
            await p.side.bus.execute(m.CancelEnrollment(leaving.aggregate_id, "busy"), cy)
            seen += await drive(p, own, seen[-1].position)

            assert [(due, state) for _, due, state in await timers(p, moving.aggregate_id)] == [
                (starts - LEAD, "REPLACED"), (later - LEAD, "SCHEDULED")]
            assert [state for *_, state in await timers(p, leaving.aggregate_id)] == [
                "CANCELLED"]
            # At the old time nothing is due; at the new one, Bo's alone fires.
            assert await p.workflow.fire_due(starts - LEAD + timedelta(minutes=1)) == 0
            assert await p.workflow.fire_due(later - LEAD + timedelta(minutes=1)) == 1
            await drive(p, own, seen[-1].position)
            assert len(Mailbox(own.mailpit_url).wait_for(bo_email, 2)) == 2
            assert len(starting_soon(own.mailpit_url, bo_email)) == 1

    asyncio.run(scenario())


def test_no_reminder_for_a_start_already_past_or_a_course_without_one(own: Settings) -> None:
    teacher = m.Actor(uuid4(), "instructor")

    async def scenario() -> None:
        async with open_processes(own) as p:
            started = await course_starting(p.side.bus, teacher,
                                            datetime.now(UTC) - timedelta(days=1))
            open_ended = await course_starting(p.side.bus, teacher, None)
            head = events_after(own, 0)[-1].position
            enrolled = []
            for course in (started, open_ended):
                dee, _ = await student(p.side.bus, "Dee")
                enrolled.append(await p.side.bus.execute(m.EnrollStudent(course, dee.user_id),
                                                         dee))
            seen = await drive(p, own, head)
            for enrollment in enrolled:
                assert "enrollment.activated" in [e.event_type for e in seen
                                                  if e.aggregate_id == enrollment.aggregate_id]
                assert await timers(p, enrollment.aggregate_id) == []

    asyncio.run(scenario())
