"""The PostgreSQL sink against the real database: Kafka-like batches (redeliveries, partitions
interleaved at random, poison events, gaps, watermarks) into each projection.

Every test writes a private copy of a projection (its own name, so its own version schema,
positions and lock, and no views), so it shares the database safely with other tests.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest
from psycopg import AsyncConnection

from commands import messages as m
from commands.adapters.event_store import StoredEvent
from projections.checksums import table_checksums
from projections.deliveries import (
    AGGREGATE_PARKED,
    FOLD_FAILED,
    VERSION_GAP,
    WRITE_FAILED,
    Delivery,
    EventDelivery,
    WatermarkDelivery,
)
from projections.positions import aprojection_positions
from projections.registry import PROJECTIONS
from projections.sink import PostgresProjector
from tests.support.projections import Make
from tests.unit.projections.given import platform
from tests.unit.projections.history import deliveries, scenario

pytestmark = pytest.mark.integration



def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def sync(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return sync


@pytest.fixture(scope="module")
def events() -> list[StoredEvent]:
    store, h = platform(seed=11)
    asyncio.run(scenario(h))
    return store.events





async def feed(conn: AsyncConnection, projector: PostgresProjector,
               batches: list[list[Delivery]]) -> dict[str, Any]:
    totals: dict[str, Any] = {"applied": 0, "duplicates": 0, "dead_letters": []}
    for batch in batches:
        result = await projector.apply(conn, batch)
        totals["applied"] += result.applied
        totals["duplicates"] += result.duplicates
        totals["dead_letters"] += result.dead_letters
    return totals


async def rows(conn: AsyncConnection, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return await (await conn.execute(sql, list(params))).fetchall()


# -- once-only application ---------------------------------------------------------------------
@pytest.mark.parametrize("name", PROJECTIONS)
@run
async def test_redelivered_batches_apply_once_and_a_repeat_changes_nothing(
        name: str, dsn: str, copy_of: Make, events: list[StoredEvent]) -> None:
    projection = copy_of(name)
    projector = PostgresProjector(projection)
    batches = deliveries(events, random.Random(1), duplicates=0.3)
    handled = sum(1 for e in events if projection.handles(e))
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        first = await feed(conn, projector, batches)
        built = await table_checksums(conn, projection, 1)

        again = await feed(conn, projector, batches)

        assert (first["applied"], first["dead_letters"]) == (handled, [])
        assert (again["applied"], again["dead_letters"]) == (0, [])
        assert again["duplicates"] == sum(isinstance(d, EventDelivery)
                                          and projection.handles(d.event)
                                          for batch in batches for d in batch)
        assert await table_checksums(conn, projection, 1) == built


@pytest.mark.parametrize("name", PROJECTIONS)
@run
async def test_any_interleaving_of_partitions_and_topics_ends_the_same(
        name: str, dsn: str, copy_of: Make, events: list[StoredEvent]) -> None:
    in_order, shuffled, reshuffled = copy_of(name), copy_of(name), copy_of(name)
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        await feed(conn, PostgresProjector(in_order), [[EventDelivery(e) for e in events]])
        await feed(conn, PostgresProjector(shuffled), deliveries(events, random.Random(2)))
        await feed(conn, PostgresProjector(reshuffled), deliveries(events, random.Random(3), 5))

        expected = await table_checksums(conn, in_order, 1)
        assert await table_checksums(conn, shuffled, 1) == expected
        assert await table_checksums(conn, reshuffled, 1) == expected
        assert all(count for table, (count, _) in expected.items() if table != "parked")


@run
async def test_rows_say_what_happened(dsn: str, copy_of: Make) -> None:
    store, h = platform(seed=5)
    course = await h.course(modules=2, lessons=2, capacity=10)
    eid = await h.enroll(course)
    student = h.enrollments[eid][1]
    await h.enroll(course)
    await h.do(m.ActivateEnrollment(eid), m.Actor(student.user_id, "system"))
    await h.learn(eid, [course.lessons[0], course.lessons[2]])
    platform_actor = m.Actor(uuid4(), "system")  # scores come from the platform
    await h.do(m.ScoreQuiz(eid, uuid4(), 6, 10), platform_actor)
    await h.do(m.ScoreQuiz(eid, uuid4(), 9, 10), platform_actor)
    catalog, mine, roster = (copy_of(n) for n in ("course_catalog", "student_enrollments",
                                                  "course_roster"))
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        for projection in (catalog, mine, roster):
            await feed(conn, PostgresProjector(projection), deliveries(store.events,
                                                                       random.Random(4)))

        assert await rows(conn, f"SELECT status, seats_taken, seats_available, content_version"
                                f" FROM {catalog.schema(1)}.catalog_courses") == [
            ("PUBLISHED", 2, 8, 1)]
        assert await rows(conn, f"SELECT state, course_title, completed_count, total_lessons,"
                                f" progress_percent::text, next_lesson_id FROM"
                                f" {mine.schema(1)}.student_enrollments WHERE enrollment_id = %s",
                          eid) == [("ACTIVE", "Course 0", 2, 4, "50.00", course.lessons[1])]
        assert await rows(conn, f"SELECT completed_count, total_lessons, quiz_average::text"
                                f" FROM {roster.schema(1)}.course_roster"
                                f" WHERE enrollment_id = %s", eid) == [(2, 4, "75.00")]


# -- dead letters ------------------------------------------------------------------------------
def poisoned(event: StoredEvent, **payload: Any) -> StoredEvent:
    return replace(event, payload={**event.payload, **payload})


@run
async def test_a_poison_event_parks_its_aggregate_while_others_go_on(
        dsn: str, copy_of: Make) -> None:
    store, h = platform(seed=6)
    bad, good = await h.course(), await h.course()
    for course in (bad, good):
        await h.enroll(course)
    await h.do(m.ChangeCapacity(bad.id, 40), h.instructor)
    await h.do(m.ChangeCapacity(good.id, 40), h.instructor)
    await h.enroll(bad)
    events = store.events
    *_, broken, seat = [e for e in events if e.aggregate_id == bad.id]
    assert (broken.event_type, seat.event_type) == ("course.capacity_changed",
                                                    "course.seat_reserved")
    events = [poisoned(e, capacity=2**40) if e is broken else e for e in events]
    projection = copy_of("course_catalog")
    projector = PostgresProjector(projection)
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        result = await projector.apply(conn, [EventDelivery(e, "smartcourse.course", 0, i)
                                              for i, e in enumerate(events)])

        assert [(x.delivery.event.event_id, x.reason) for x in result.dead_letters] == [
            (broken.event_id, WRITE_FAILED),
            (seat.event_id, AGGREGATE_PARKED)]
        assert "out of range" in result.dead_letters[0].error
        assert await rows(conn, f"SELECT course_id, capacity, seats_taken FROM"
                                f" {projection.schema(1)}.catalog_courses ORDER BY capacity") == [
            (good.id, 40, 1), (bad.id, 50, 1)]
        assert await rows(conn, f"SELECT aggregate_id, reason, version FROM"
                                f" {projection.schema(1)}.parked") == [
            (bad.id, WRITE_FAILED, broken.version)]

        later = await projector.apply(conn, [EventDelivery(seat)])  # redelivered
        assert [x.reason for x in later.dead_letters] == [AGGREGATE_PARKED]

        fixed = [EventDelivery(e) for e in store.events if e.aggregate_id == bad.id]
        retried = await projector.retry(conn, fixed)

        assert (retried.applied, retried.dead_letters) == (2, [])
        assert await rows(conn, f"SELECT capacity, seats_taken FROM"
                                f" {projection.schema(1)}.catalog_courses WHERE course_id = %s",
                          bad.id) == [(40, 2)]
        assert await rows(conn, f"SELECT * FROM {projection.schema(1)}.parked") == []


@run
async def test_a_fold_failure_and_a_gap_are_dead_letters_with_reasons(
        dsn: str, copy_of: Make) -> None:
    store, h = platform(seed=7)
    first, second = await h.course(), await h.course()
    await h.do(m.ReviseCourseDetails(first.id, "New", "d", []), h.instructor)
    revised = store.events[-1]
    projection = copy_of("course_detail")
    projector = PostgresProjector(projection)
    own = [e for e in store.events if e.aggregate_id == second.id]
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        upto = [EventDelivery(e) for e in store.events[:-1] if e.aggregate_id == first.id]
        await projector.apply(conn, upto)
        result = await projector.apply(conn, [
            EventDelivery(replace(revised, payload={"description": "d", "tags": []})),
            EventDelivery(own[0]), EventDelivery(own[2]), EventDelivery(own[3])])

        assert [(x.delivery.event.aggregate_id, x.reason) for x in result.dead_letters] == [
            (first.id, FOLD_FAILED), (second.id, VERSION_GAP), (second.id, AGGREGATE_PARKED)]
        assert result.dead_letters[0].error == "KeyError: 'title'"
        assert result.applied == 1

        retried = await projector.retry(conn, [EventDelivery(e) for e in own])
        assert (retried.applied, retried.duplicates, retried.dead_letters) == (
            len(own) - 1, 1, [])


# -- positions ---------------------------------------------------------------------------------
@run
async def test_a_partition_whose_head_is_applied_counts_as_at_the_relays_checkpoint(
        dsn: str, copy_of: Make) -> None:
    """Read-your-writes without waiting for markers: the relay's checkpoint is 100, the last
    event it delivered to partition 0 is 40 and to partition 1 is 90. A projection that has
    handled 40 in partition 0 holds all of it up to 100; partition 1 holds it back until 90."""
    projection = copy_of("course_roster")
    projector = PostgresProjector(projection)
    tag = uuid4().hex[:10]
    relay, topic = f"test-heads-{tag}", f"heads{tag}.enrollment"
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        try:
            await conn.execute("INSERT INTO event_store.checkpoints (name, position)"
                               " VALUES (%s, 100)", [relay])
            await conn.execute("INSERT INTO event_store.partition_heads VALUES"
                               " (%s, %s, 0, 40), (%s, %s, 1, 90)", [relay, topic] * 2)
            await projector.apply(conn, [WatermarkDelivery(topic, 0, 40),
                                         WatermarkDelivery(topic, 1, 60)])
            reached = await aprojection_positions(conn, topic_prefix=f"heads{tag}")
            assert reached[projection.name] == 60
            await projector.apply(conn, [WatermarkDelivery(topic, 1, 90)])
            reached = await aprojection_positions(conn, topic_prefix=f"heads{tag}")
            assert reached[projection.name] == 100
        finally:
            await conn.execute("DELETE FROM event_store.partition_heads WHERE relay = %s",
                               [relay])
            await conn.execute("DELETE FROM event_store.checkpoints WHERE name = %s", [relay])


@run
async def test_events_and_watermarks_move_each_partition_and_the_minimum_is_the_position(
        dsn: str, copy_of: Make, events: list[StoredEvent]) -> None:
    projection = copy_of("course_roster")
    projector = PostgresProjector(projection)
    topic = "smartcourse.enrollment"
    enrollment = [e for e in events if e.aggregate_type == "enrollment"]
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        await projector.apply(conn, [EventDelivery(enrollment[0], topic, 0, 0),
                                     WatermarkDelivery(topic, 1, 5)])
        await projector.apply(conn, [WatermarkDelivery(topic, 0, 3)])  # older: no move back

        positions = await rows(conn, "SELECT topic, partition, position FROM"
                                     " read_models.projection_positions WHERE projection = %s"
                                     " ORDER BY partition", projection.name)
        assert positions == [(topic, 0, enrollment[0].position), (topic, 1, 5)]
        reached = await aprojection_positions(conn)
        assert reached[projection.name] == min(enrollment[0].position, 5)
        complete = await aprojection_positions(conn, partitions_per_topic=3,
                                               projections={projection.name: projection})
        assert complete[projection.name] == 0  # partition 2 has not been heard from
