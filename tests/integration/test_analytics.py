"""ClickHouse analytics against the real services: a history made through the CommandBus, fed
through the sink with repeats and redeliveries, gives exact metrics; a rebuild equals it."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from clickhouse_connect.driver.client import Client

from commands import messages as m
from commands.adapters.event_store import StoredEvent
from projections.analytics import schema
from projections.analytics.clients import writer_client
from projections.analytics.rebuild import RebuildBusy, hold_rebuild_lock, rebuild
from projections.analytics.sink import ClickHouseSink, read_checkpoints
from projections.deliveries import EventDelivery, WatermarkDelivery
from smartcourse.bootstrap import open_write_side
from smartcourse.settings import Settings

pytestmark = pytest.mark.integration

# (course, student) -> lessons completed (by number) and quiz scores (score, max)
PLAN: dict[tuple[str, str], tuple[list[int], list[tuple[float, float]]]] = {
    ("A", "s1"): ([1, 2, 3], [(10, 10)]),
    ("A", "s2"): ([1, 2], [(7, 10)]),
    ("A", "s3"): ([1], [(3, 10), (9.5, 10)]),
    ("A", "s4"): ([], []),
    ("B", "t1"): ([1, 2], [(0, 5)]),
    ("B", "t2"): ([2], [(5, 5)]),
    ("B", "s1"): ([1], []),
}
CANCELLED = ("A", "s5")
LESSONS = {"A": 3, "B": 2}


@dataclass
class History:
    courses: dict[str, UUID] = field(default_factory=dict)
    lessons: dict[str, list[UUID]] = field(default_factory=dict)
    students: dict[str, UUID] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)

    def of(self, event_type: str) -> list[StoredEvent]:
        return [e for e in self.events if e.event_type == event_type]


async def make_history(settings: Settings) -> History:
    h = History()
    side = await open_write_side(settings)
    try:
        bus, teacher = side.bus, m.Actor(uuid4(), "instructor")
        touched: set[UUID] = set()
        for name, count in LESSONS.items():
            course, module = uuid4(), uuid4()
            h.courses[name], h.lessons[name] = course, [uuid4() for _ in range(count)]
            await bus.execute(m.CreateCourse(course, f"Course {name}", capacity=50), teacher)
            await bus.execute(m.AddModule(course, module, "Module"), teacher)
            for n, lesson in enumerate(h.lessons[name], 1):
                await bus.execute(m.AddLesson(course, module, lesson, f"Lesson {n}", "Text."),
                                  teacher)
            await bus.execute(m.PublishCourse(course, uuid4()), teacher)
            touched.add(course)
        for course_name, student_name in [*PLAN, CANCELLED]:
            student = h.students.setdefault(student_name, uuid4())
            me = m.Actor(student, "student")
            if student not in touched:
                await bus.execute(m.RegisterUser(student, student_name, f"{student}@it.example",
                                                 "student"), me)
                touched.add(student)
            enrolled = await bus.execute(m.EnrollStudent(h.courses[course_name], student), me)
            touched.add(enrolled.aggregate_id)
            if (course_name, student_name) == CANCELLED:
                await bus.execute(m.CancelEnrollment(enrolled.aggregate_id, "changed mind"), me)
                continue
            await bus.execute(m.ActivateEnrollment(enrolled.aggregate_id),
                              m.Actor(me.user_id, "system"))
            done, quizzes = PLAN[(course_name, student_name)]
            for n in done:
                await bus.execute(m.CompleteLesson(enrolled.aggregate_id,
                                                   h.lessons[course_name][n - 1]), me)
            for score, top in quizzes:
                await bus.execute(m.ScoreQuiz(enrolled.aggregate_id, uuid4(), score, top),
                                  m.Actor(uuid4(), "system"))
        for aggregate in touched:
            h.events += await side.store.load(aggregate)
        h.events.sort(key=lambda e: e.position)
        return h
    finally:
        await side.close()


def question(course: UUID, student: UUID, at: StoredEvent) -> StoredEvent:
    """ai.requested is not in the write model yet: a stand-in with the envelope it will have."""
    return StoredEvent(0, uuid4(), "question", uuid4(), 1, "ai.requested", 1,
                       {"course_id": str(course), "student_id": str(student), "text": "why?"},
                       at.occurred_at, str(student), uuid4(), None)


def deliveries(events: list[StoredEvent]) -> list[EventDelivery]:
    """As the worker gets them: a topic per aggregate type, two partitions, in order."""
    offsets: Counter[tuple[str, int]] = Counter()
    out = []
    for e in events:
        topic, partition = f"it.{e.aggregate_type}", e.aggregate_id.int % 2
        out.append(EventDelivery(e, topic, partition, offsets[(topic, partition)]))
        offsets[(topic, partition)] += 1
    return out


@pytest.fixture(scope="module")
def ns(stack: Settings) -> Iterator[tuple[Settings, Client, str]]:
    """A throwaway analytics namespace, dropped afterwards."""
    database = f"it_analytics_{uuid4().hex[:10]}"
    client = writer_client(stack)
    schema.ensure_schema(client, database)
    yield stack.model_copy(update={"analytics_database": database}), client, database
    schema.drop_all(client, database)
    client.close()


@pytest.fixture(scope="module")
def fed(ns: tuple[Settings, Client, str]) -> History:
    """The history through the sink, with every kind of repeat a live worker meets."""
    settings, client, db = ns
    h = asyncio.run(make_history(settings))
    a, b = h.courses["A"], h.courses["B"]
    h.events += [question(a, h.students["s1"], h.events[-1]),
                 question(a, h.students["s2"], h.events[-1]),
                 question(b, h.students["t1"], h.events[-1])]
    items = deliveries(h.events)
    sink = ClickHouseSink(client, db, name="it", max_rows=7)
    sink.write(items[:20])
    sink.write(items[15:40])  # overlaps the previous write: repeats inside and across batches
    # A worker killed before its flush: nothing of its buffer reached the checkpoint.
    doomed = ClickHouseSink(client, db, name="it", max_rows=10_000)
    before = read_checkpoints(client, db, "it")
    doomed.write(items[40:])
    assert read_checkpoints(client, db, "it") == before
    # Its successor gets everything since the committed offsets again.
    successor = ClickHouseSink(client, db, name="it", max_rows=10_000)
    result = successor.write(items[30:])
    assert result is None and successor.pending == len(items) - 30
    flushed = successor.close()
    assert flushed is not None and flushed.skipped > 0  # covered by the checkpoint
    # Repeats that do reach ClickHouse: an identical insert (dropped by its token, yet the
    # materialized views fire again) and a differently composed one (new rows in the table).
    store_path = ClickHouseSink(client, db, name="it-store", max_rows=10_000)
    for repeat in (h.events[:25], h.events[:25], h.events[::-1]):
        store_path.write(repeat)
        assert store_path.flush().inserted == len(repeat)
    return h


def rows(client: Client, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query(sql, parameters=parameters).result_rows]


def test_every_event_once(ns: tuple[Settings, Client, str], fed: History) -> None:
    _, client, db = ns
    ids = [e.event_id for e in fed.events]
    assert rows(client, f"SELECT count(), uniqExact(event_id) FROM {db}.events"
                " WHERE has({ids:Array(UUID)}, event_id)", ids=ids) == [(len(ids), len(ids))]


def test_checkpoints_hold_the_highest_position_per_partition(
        ns: tuple[Settings, Client, str], fed: History) -> None:
    _, client, db = ns
    expected: dict[tuple[str, int], int] = {}
    for d in deliveries(fed.events):
        if d.event.position:  # the stand-in questions have no store position
            key = (d.topic, d.partition)
            expected[key] = max(expected.get(key, 0), d.event.position)
    assert {k: v for k, v in read_checkpoints(client, db, "it").items() if v} == expected
    sink = ClickHouseSink(client, db, name="it")
    mark = max(expected.values()) + 1_000
    sink.write([WatermarkDelivery("it.user", 0, mark)])
    sink.close()
    assert read_checkpoints(client, db, "it")[("it.user", 0)] == mark


def by_day(events: list[StoredEvent], key: Any) -> Counter[tuple[Any, date]]:
    return Counter((key(e), e.occurred_at.date()) for e in events)


def test_enrollments_per_course_per_day(ns: tuple[Settings, Client, str], fed: History) -> None:
    _, client, db = ns
    courses = list(fed.courses.values())
    expected = by_day(fed.of("enrollment.created"), lambda e: UUID(e.payload["course_id"]))
    got = rows(client, f"SELECT course_id, day, enrollments FROM {db}.enrollments_per_course_day"
               " WHERE has({c:Array(UUID)}, course_id)", c=courses)
    assert {(c, d): n for c, d, n in got} == expected
    assert sum(expected.values()) == 8


def test_completion_rate_and_time_to_complete(ns: tuple[Settings, Client, str],
                                              fed: History) -> None:
    _, client, db = ns
    created = {e.aggregate_id: e for e in fed.of("enrollment.created")}
    took = [(e.occurred_at - created[e.aggregate_id].occurred_at).total_seconds()
            for e in fed.of("enrollment.completed")]
    got = {r[0]: r[1:] for r in rows(
        client, f"SELECT course_id, enrollments, completions, cancellations, completion_rate,"
        f" avg_seconds_to_complete FROM {db}.course_completion"
        " WHERE has({c:Array(UUID)}, course_id)", c=list(fed.courses.values()))}
    a, b = got[fed.courses["A"]], got[fed.courses["B"]]
    assert a[:4] == (5, 1, 1, 0.2) and b[:3] == (3, 1, 0)
    assert b[3] == pytest.approx(1 / 3)
    assert sorted([a[4], b[4]]) == pytest.approx(sorted(took), abs=1e-6)


def test_lesson_funnel_in_lesson_order(ns: tuple[Settings, Client, str], fed: History) -> None:
    _, client, db = ns
    for name, enrolled in (("A", 5), ("B", 3)):
        got = rows(client, f"SELECT lesson_no, lesson_id, students, share_of_enrolled"
                   f" FROM {db}.lesson_funnel WHERE course_id = {{c:UUID}} ORDER BY lesson_no",
                   c=fed.courses[name])
        counts = Counter(n for (course, _), (done, _) in PLAN.items() if course == name
                         for n in done)
        assert got == [(n, lesson, counts[n], pytest.approx(counts[n] / enrolled))
                       for n, lesson in enumerate(fed.lessons[name], 1)]
    assert [r[2] for r in got] == [2, 2]


def test_quiz_score_distribution(ns: tuple[Settings, Client, str], fed: History) -> None:
    _, client, db = ns
    for name in ("A", "B"):
        expected: Counter[int] = Counter()
        for (course, _), (_, quizzes) in PLAN.items():
            if course == name:
                expected.update(min(math.floor(s * 10 / top), 9) for s, top in quizzes)
        got = rows(client, f"SELECT bucket, from_percent, to_percent, quizzes"
                   f" FROM {db}.quiz_score_distribution WHERE course_id = {{c:UUID}}"
                   " ORDER BY bucket", c=fed.courses[name])
        assert got == [(b, b * 10, b * 10 + 10, n) for b, n in sorted(expected.items())]


def test_active_learners_and_questions(ns: tuple[Settings, Client, str], fed: History) -> None:
    _, client, db = ns
    today = {e.occurred_at.date() for e in fed.of("enrollment.progressed")}
    assert len(today) == 1, "the history straddled midnight UTC; run again"
    day = today.pop()
    per_course = rows(client, f"SELECT course_id, active_learners FROM"
                      f" {db}.active_learners_per_course_day WHERE day = {{d:Date}}"
                      " AND has({c:Array(UUID)}, course_id)",
                      d=day, c=list(fed.courses.values()))
    assert dict(per_course) == {fed.courses["A"]: 3, fed.courses["B"]: 3}
    # s1 learns in both courses and counts once (the namespace holds only this history).
    assert rows(client, f"SELECT active_learners FROM {db}.active_learners_per_day"
                " WHERE day = {d:Date}", d=day) == [(5,)]
    questions = rows(client, f"SELECT course_id, questions FROM {db}.questions_per_course_day"
                     " WHERE has({c:Array(UUID)}, course_id)", c=list(fed.courses.values()))
    assert dict(questions) == {fed.courses["A"]: 2, fed.courses["B"]: 1}


CHECKSUM = """SELECT count(), groupBitXor(cityHash64(event_id, event_type, aggregate_id,
    version, position, occurred_at, actor, correlation_id, course_id, enrollment_id,
    student_id, lesson_id, score, max_score, payload)) FROM {db}.events
    WHERE has({{ids:Array(UUID)}}, event_id)"""
METRICS = [
    "SELECT * FROM {db}.enrollments_per_course_day WHERE has({{c:Array(UUID)}}, course_id)",
    "SELECT * FROM {db}.course_completion WHERE has({{c:Array(UUID)}}, course_id)",
    "SELECT * FROM {db}.lesson_funnel WHERE has({{c:Array(UUID)}}, course_id)",
    "SELECT * FROM {db}.quiz_score_distribution WHERE has({{c:Array(UUID)}}, course_id)",
    "SELECT * FROM {db}.active_learners_per_course_day WHERE has({{c:Array(UUID)}}, course_id)",
    "SELECT * FROM {db}.enrollments WHERE has({{c:Array(UUID)}}, course_id)",
]


def snapshot(client: Client, db: str, h: History) -> list[Any]:
    stored = [e.event_id for e in h.events if e.position]  # what the store can rebuild
    courses = list(h.courses.values())
    return [sorted(rows(client, CHECKSUM.format(db=db), ids=stored))] + [
        sorted(map(str, rows(client, sql.format(db=db), c=courses))) for sql in METRICS]


def test_rebuild_equals_live_and_switches_the_sink(ns: tuple[Settings, Client, str],
                                                   fed: History) -> None:
    settings, client, db = ns
    live = snapshot(client, db, fed)
    result = rebuild(settings, database=db, chunk_size=50_000)
    assert (result.previous, result.version) == (1, 2)
    assert schema.live_version(client, db) == 2 and schema.versions(client, db) == [1, 2]
    assert result.upto >= max(e.position for e in fed.events)
    assert snapshot(client, db, fed) == live
    # A sink that wrote v1 before the switch writes v2 now (it reads the pointer per flush).
    sink = ClickHouseSink(client, db, name="it")
    late = question(fed.courses["B"], fed.students["t2"], fed.events[-1])
    assert sink.write([late]) is None and sink.close().version == 2
    assert rows(client, f"SELECT questions FROM {db}.questions_per_course_day"
                " WHERE course_id = {c:UUID}", c=fed.courses["B"]) == [(1,)]


def test_a_second_rebuild_of_the_same_database_is_refused(
        ns: tuple[Settings, Client, str]) -> None:
    settings, client, db = ns
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        hold_rebuild_lock(conn, db)  # as a running rebuild holds it
        with pytest.raises(RebuildBusy, match=db):
            rebuild(settings, database=db)
    assert schema.live_version(client, db) == 2  # untouched
