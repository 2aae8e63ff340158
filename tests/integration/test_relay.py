"""The outbox relay against the real PostgreSQL, Kafka and schema registry.

Every test runs its own relay (own checkpoint name and topic prefix, starting at the store's
head), so the store may be shared with other tests: assertions filter by the test's own
aggregate ids, and topics are read from their first offset, which is known because the
relay created them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from psycopg.types.json import Jsonb

from commands import messages as m
from commands.adapters.avro_contracts import EventDecoder, registry_client, subject_name
from commands.adapters.event_codec import payload_of
from commands.adapters.event_store import APPEND_LOCK, COLUMNS, NOTIFY_CHANNEL, StoredEvent
from commands.adapters.relay import WATERMARK_HEADER, Relay, RelayConfig
from commands.bus import CommandBus
from commands.domain.ids import enrollment_id, event_id
from commands.domain.user import User
from smartcourse.settings import Settings
from tests.support.writer import Writer

pytestmark = pytest.mark.integration

DEADLINE = 120.0
T = TypeVar("T")


# -- helpers -----------------------------------------------------------------------------------
def wait_until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE,
               interval: float = 0.01) -> None:
    """Poll `condition` until it holds; fail with `what` at the deadline."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        threading.Event().wait(interval)


def query(settings: Settings, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def execute(settings: Settings, sql: str, params: list[Any]) -> None:
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        conn.execute(sql, params)


def head(settings: Settings) -> int:
    return query(settings, "SELECT coalesce(max(position), 0) FROM event_store.events")[0][0]


def checkpoint(settings: Settings, name: str) -> int | None:
    rows = query(settings, "SELECT position FROM event_store.checkpoints WHERE name = %s", [name])
    return rows[0][0] if rows else None


def stored_events(settings: Settings, aggregate_ids: set[UUID]) -> list[StoredEvent]:
    rows = query(settings, f"SELECT {COLUMNS} FROM event_store.events"
                 " WHERE aggregate_id = ANY(%s) ORDER BY position", [list(aggregate_ids)])
    return [StoredEvent(*row) for row in rows]



@pytest.fixture(scope="module")
def writer(stack: Settings) -> Iterator[Writer]:
    w = Writer(stack, DEADLINE)
    yield w
    w.close()


@pytest.fixture
def relay_config(stack: Settings) -> Iterator[RelayConfig]:
    """A relay of the test's own: own checkpoint, own topics, starting at the current head."""
    tag = f"test-relay-{uuid.uuid4().hex[:12]}"
    config = RelayConfig(name=tag, topic_prefix=tag, start_after=head(stack), poll_interval=0.2)
    yield config
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    existing = set(admin.list_topics(timeout=30).topics)
    doomed = [t for t in config.topics() if t in existing]
    if doomed:
        for future in admin.delete_topics(doomed, request_timeout=30).values():
            future.result(timeout=30)
    execute(stack, "DELETE FROM event_store.checkpoints WHERE name = %s", [config.name])


@contextmanager
def running_relay(settings: Settings, config: RelayConfig) -> Iterator[Relay]:
    """The relay in a thread of this process, stopped the graceful way afterwards."""
    relay = Relay(settings, config)
    started = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            relay.run(ready=started.set)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread below
            errors.append(error)
            started.set()

    thread = threading.Thread(target=target, name="relay", daemon=True)
    thread.start()
    assert started.wait(DEADLINE), "the relay did not start"
    try:
        if errors:
            raise errors[0]
        yield relay
    finally:
        relay.stop()
        thread.join(DEADLINE)
        assert not thread.is_alive(), "the relay did not stop"
    if errors:
        raise errors[0]


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: bytes
    headers: dict[str, bytes]
    value: bytes


def read_topics(settings: Settings, topics: list[str], markers: bool = False) -> list[Received]:
    """Everything in the topics from offset 0 up to their end offsets as of now (watermark
    markers only if asked for)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=30)
        ends: dict[tuple[str, int], int] = {}
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 30)
                if high > 0:
                    ends[(topic, partition)] = high
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
        received: list[Received] = []
        pending = dict(ends)
        end = time.monotonic() + DEADLINE
        while pending:
            assert time.monotonic() < end, f"topics not read to their end: {pending}"
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            place = (message.topic(), message.partition())
            if place not in pending or message.offset() >= pending[place]:
                continue
            received.append(Received(
                topic=message.topic(), partition=message.partition(), offset=message.offset(),
                key=message.key(), headers={k: v for k, v in message.headers() or []},
                value=message.value()))
            if message.offset() + 1 >= pending[place]:
                del pending[place]
        return [r for r in received if markers or WATERMARK_HEADER not in r.headers]
    finally:
        consumer.close()


def decoder(settings: Settings) -> EventDecoder:
    return EventDecoder(registry_client(settings.registry_url))


def versions_without_repeats(messages: list[Received], decode: Callable[[Received], int]
                             ) -> list[int]:
    """An aggregate's versions in partition order, each kept at its first appearance."""
    seen: list[int] = []
    for message in sorted(messages, key=lambda r: r.offset):
        version = decode(message)
        if version not in seen:
            seen.append(version)
    return seen


# -- scenarios ---------------------------------------------------------------------------------
async def author_and_enroll(bus: CommandBus, students: int = 4) -> set[UUID]:
    """A published course with students enrolling at once; returns every aggregate id."""
    instructor = m.Actor(uuid4(), "instructor")
    course, module, lessons = uuid4(), uuid4(), [uuid4(), uuid4()]
    await bus.execute(m.CreateCourse(course, "Kafka", tags=["kafka"], capacity=10), instructor)
    await bus.execute(m.AddModule(course, module, "Basics"), instructor)
    for n, lesson in enumerate(lessons):
        asset = {"name": f"l{n}.pdf", "url": f"https://files.test/l{n}.pdf",
                 "mime_type": "application/pdf", "size_bytes": 1000 + n}
        await bus.execute(m.AddLesson(course, module, lesson, f"Lesson {n}", "text", [asset]),
                          instructor)
    await bus.execute(m.PublishCourse(course, uuid4()), instructor)

    async def study(student: UUID) -> UUID:
        me = m.Actor(student, "student")
        await bus.execute(m.RegisterUser(student, "Student", f"{student}@test.example",
                                         "student"), me)
        enrolled = await bus.execute(m.EnrollStudent(course, student), me)
        await bus.execute(m.ActivateEnrollment(enrolled.aggregate_id),
                          m.Actor(me.user_id, "system"))
        await bus.execute(m.CompleteLesson(enrolled.aggregate_id, lessons[0]), me)
        await bus.execute(m.ScoreQuiz(enrolled.aggregate_id, uuid4(), 8, 10),
                          m.Actor(uuid4(), "system"))  # scores come from the platform
        return enrolled.aggregate_id

    people = [uuid4() for _ in range(students)]
    enrollments = await asyncio.gather(*(study(p) for p in people))
    assert set(enrollments) == {enrollment_id(course, p) for p in people}
    return {course, *people, *enrollments}


async def build_courses(bus: CommandBus, courses: list[UUID], first: int, count: int) -> None:
    """Modules `first`..`first+count-1` for each course (course created at module 0): one
    event per command, commands of one course in order, the courses side by side."""
    instructor = m.Actor(uuid4(), "admin")

    async def build(course: UUID) -> None:
        for n in range(first, first + count):
            if n == 0:
                await bus.execute(m.CreateCourse(course, f"Course {course}"), instructor)
            else:
                await bus.execute(m.AddModule(course, uuid4(), f"Module {n}"), instructor)

    await asyncio.gather(*(build(c) for c in courses))


# -- tests -------------------------------------------------------------------------------------
def test_events_reach_kafka_in_order_with_key_and_headers(
    stack: Settings, writer: Writer, relay_config: RelayConfig
) -> None:
    with running_relay(stack, relay_config):
        ours = writer.run(author_and_enroll(writer.bus))
        stored = stored_events(stack, ours)
        last = stored[-1].position
        wait_until(lambda: (checkpoint(stack, relay_config.name) or 0) >= last,
                   "the relay to confirm the test's events")

    received = read_topics(stack, relay_config.topics())
    mine = [r for r in received if UUID(r.key.decode()) in ours]
    decode = decoder(stack)
    registry = registry_client(stack.registry_url)
    by_aggregate: dict[UUID, list[tuple[Received, StoredEvent]]] = defaultdict(list)
    for message in mine:
        by_aggregate[UUID(message.key.decode())].append(
            (message, decode.decode_event(message.value, message.topic)))

    expected: dict[UUID, list[StoredEvent]] = defaultdict(list)
    for event in stored:
        expected[event.aggregate_id].append(event)
    assert set(by_aggregate) == set(expected) == ours
    schema_ids: dict[str, int] = {}
    for aggregate, pairs in by_aggregate.items():
        pairs.sort(key=lambda pair: pair[0].offset)
        assert len({message.partition for message, _ in pairs}) == 1, "one partition each"
        assert [event for _, event in pairs] == expected[aggregate]  # all, once, in order
        for message, event in pairs:
            assert message.topic == f"{relay_config.topic_prefix}.{event.aggregate_type}"
            assert message.headers == {
                "event_id": str(event.event_id).encode(),
                "event_type": event.event_type.encode(),
                "correlation_id": str(event.correlation_id).encode(),
            }
            subject = subject_name(event.event_type)
            if subject not in schema_ids:
                schema_ids[subject] = registry.get_latest_version(subject).schema_id
            assert message.value[0] == 0  # Confluent framing: magic byte, schema id, Avro
            assert int.from_bytes(message.value[1:5], "big") == schema_ids[subject]


def relay_process(settings: Settings, config: RelayConfig, log: Path) -> subprocess.Popen[bytes]:
    command = Path(sys.executable).with_name("smartcourse")
    return subprocess.Popen(
        [str(command), "relay", "--name", config.name, "--topic-prefix", config.topic_prefix,
         "--from-position", str(config.start_after), "--batch-size", "50",
         "--poll-interval", "0.2", "--metrics-port", "0"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


def test_a_killed_relay_loses_nothing_and_keeps_aggregate_order(
    stack: Settings, writer: Writer, relay_config: RelayConfig, tmp_path: Path
) -> None:
    """kill -9 the relay process several times while it works through a backlog, append more,
    restart it: every event arrives, and each aggregate's events are in order once repeats
    (a batch that was sent but not yet recorded, sent again) are dropped."""
    courses = [uuid4() for _ in range(60)]
    per_phase = 25
    writer.run(build_courses(writer.bus, courses, 0, per_phase))  # a backlog of 1,500 events
    log = tmp_path / "relay.log"

    kills = []
    for _ in range(3):
        before = checkpoint(stack, relay_config.name) or relay_config.start_after
        doomed = relay_process(stack, relay_config, log)
        try:
            wait_until(lambda before=before: (checkpoint(stack, relay_config.name) or 0) > before,
                       "one more confirmed batch", interval=0.002)
        finally:
            doomed.send_signal(signal.SIGKILL)  # kill -9: no chance to finish anything
            assert doomed.wait(DEADLINE) == -signal.SIGKILL
        kills.append(checkpoint(stack, relay_config.name))

    survivor = relay_process(stack, relay_config, log)
    try:
        writer.run(build_courses(writer.bus, courses, per_phase, per_phase))  # 1,500 more, live
        stored = stored_events(stack, set(courses))
        assert len(stored) == 2 * per_phase * len(courses)
        last = stored[-1].position
        assert relay_config.start_after < kills[0] < kills[-1] < last, kills
        wait_until(lambda: (checkpoint(stack, relay_config.name) or 0) >= last,
                   "the restarted relay to catch up")
    finally:
        survivor.send_signal(signal.SIGTERM)  # the graceful way: finish the batch, record, exit
        assert survivor.wait(DEADLINE) == 0, log.read_text()[-3000:]
    assert b'"relay stopped"' in log.read_bytes()

    received = read_topics(stack, [f"{relay_config.topic_prefix}.course"])
    mine = [r for r in received if UUID(r.key.decode()) in set(courses)]
    decode = decoder(stack)
    events = {id(r): decode.decode_event(r.value, r.topic) for r in mine}
    assert {e.event_id for e in events.values()} == {e.event_id for e in stored}, "none missing"
    per_course: dict[UUID, list[Received]] = defaultdict(list)
    for message in mine:
        per_course[UUID(message.key.decode())].append(message)
    for course, messages in per_course.items():
        assert len({r.partition for r in messages}) == 1
        versions = versions_without_repeats(messages, lambda r: events[id(r)].version)
        assert versions == list(range(1, 2 * per_phase + 1)), course


def test_a_late_commit_is_never_skipped(
    stack: Settings, writer: Writer, relay_config: RelayConfig
) -> None:
    """The gap problem, and why it cannot happen here.

    A relay that reads `position > checkpoint` would skip an event for good if a position
    could become visible after a higher one (as with a sequence: T1 takes 10, T2 takes 11, T2
    commits, the relay reads 11 and moves on, T1 commits 10 too late). The store prevents
    that by construction: an append takes one advisory lock before it reads the highest
    position and holds it until it commits, so the next writer cannot even pick its position
    until the previous one is visible. Positions therefore become visible in order and
    without holes, and `position > checkpoint` is complete.

    Here one append transaction is held open (taken the store's way), a second writer queues
    behind the lock, the relay runs meanwhile; then both commit in order and the relay has
    every position from where it started, the late one included, with no gap.
    """
    late_user, queued_user = uuid4(), uuid4()
    with running_relay(stack, relay_config), psycopg.connect(stack.pg_dsn) as held:
        held.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
        late_position = held.execute(
            "SELECT coalesce(max(position), 0) + 1 FROM event_store.events").fetchone()[0]
        user = User(id=late_user, display_name="Late", email=f"late-{late_user}@test.example",
                    role="student")
        (registered,) = user.collect_events()
        held.execute(
            f"INSERT INTO event_store.events ({COLUMNS})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [late_position, event_id(late_user, 1), "user", late_user, 1, "user.registered", 1,
             Jsonb(payload_of(registered)), registered.timestamp, str(late_user), uuid4(), None])
        held.execute(f"NOTIFY {NOTIFY_CHANNEL}")

        queued = writer.submit(writer.bus.execute(
            # An email of its own: one taken by an earlier run is refused before the lock.
            m.RegisterUser(queued_user, "Queued", f"queued-{queued_user}@test.example",
                           "student"),
            m.Actor(queued_user, "student")))
        wait_until(lambda: query(
            stack, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                   " AND classid = 0 AND objid = %s AND objsubid = 1", [APPEND_LOCK])[0][0] > 0,
            "the second writer to queue behind the held append")
        # Everything committed so far is relayed; nothing beyond the held position exists yet.
        wait_until(lambda: checkpoint(stack, relay_config.name) == late_position - 1,
                   "the relay to catch up with what is committed")
        assert not queued.done()

        held.commit()
        queued_position = queued.result(DEADLINE).position
        assert queued_position > late_position
        wait_until(lambda: (checkpoint(stack, relay_config.name) or 0) >= queued_position,
                   "the relay to confirm both appends")

    received = read_topics(stack, relay_config.topics())
    decode = decoder(stack)
    positions = sorted(decode.decode(r.value, r.topic)["position"] for r in received
                       if not r.topic.endswith(".dlq"))
    final = checkpoint(stack, relay_config.name)
    assert final is not None
    assert positions == list(range(relay_config.start_after + 1, final + 1)), "no gap, no repeat"
    users = {UUID(r.key.decode()): decode.decode_event(r.value, r.topic) for r in received
             if r.topic.endswith(".user") and UUID(r.key.decode()) in {late_user, queued_user}}
    assert users[late_user].position == late_position
    # The registration also claims the email: the command's position is its last event's.
    assert late_position < users[queued_user].position <= queued_position


def test_every_partition_gets_watermark_markers_behind_the_events_they_cover(
    stack: Settings, writer: Writer, relay_config: RelayConfig
) -> None:
    """Each marker P sits after every event <= P of its partition (an event after it is always
    newer than P), every partition of every domain topic (none of the dead-letter topic) gets
    them, and they grow."""
    with running_relay(stack, relay_config):
        ours = writer.run(author_and_enroll(writer.bus))
        last = stored_events(stack, ours)[-1].position
        wait_until(lambda: (checkpoint(stack, relay_config.name) or 0) >= last,
                   "the relay to confirm the test's events")

        def marked_everywhere() -> bool:
            markers = [r for r in read_topics(stack, relay_config.domain_topics(), markers=True)
                       if WATERMARK_HEADER in r.headers]
            reached = {(r.topic, r.partition) for r in markers
                       if int(r.headers[WATERMARK_HEADER]) >= last}
            return len(reached) == relay_config.partitions * len(relay_config.domain_topics())

        wait_until(marked_everywhere, "a marker covering the test's events in every partition",
                   interval=0.2)

    received = read_topics(stack, relay_config.topics(), markers=True)
    assert not any(r.topic == relay_config.dead_letter_topic for r in received)
    decode = decoder(stack)
    by_partition: dict[tuple[str, int], list[Received]] = defaultdict(list)
    for message in received:
        by_partition[(message.topic, message.partition)].append(message)
    for messages in by_partition.values():
        marks: list[int] = []
        for message in sorted(messages, key=lambda r: r.offset):
            if WATERMARK_HEADER in message.headers:
                mark = int(message.headers[WATERMARK_HEADER])
                assert message.key is None and message.value == str(mark).encode()
                marks.append(mark)
            else:
                position = decode.decode(message.value, message.topic)["position"]
                assert position > max(marks, default=0), "an event came after its marker"
        assert marks == sorted(marks) and marks[-1] >= last


def test_each_partitions_head_is_the_last_event_kafka_holds_there_up_to_the_checkpoint(
    stack: Settings, writer: Writer, relay_config: RelayConfig
) -> None:
    """The heads saved with the checkpoint are exactly, per partition, the newest event
    position in Kafka; partitions without events keep the checkpoint they were seeded with."""
    with running_relay(stack, relay_config):
        ours = writer.run(author_and_enroll(writer.bus))
        last = stored_events(stack, ours)[-1].position
        wait_until(lambda: (checkpoint(stack, relay_config.name) or 0) >= last,
                   "the relay to confirm the test's events")
    decode = decoder(stack)
    newest: dict[tuple[str, int], int] = {}
    for message in read_topics(stack, relay_config.domain_topics()):
        position = decode.decode(message.value, message.topic)["position"]
        where = (message.topic, message.partition)
        newest[where] = max(newest.get(where, 0), position)
    heads = {(topic, partition): position for topic, partition, position in query(
        stack, "SELECT topic, partition, position FROM event_store.partition_heads"
        " WHERE relay = %s", [relay_config.name])}
    execute(stack, "DELETE FROM event_store.partition_heads WHERE relay = %s",
            [relay_config.name])
    assert len(heads) == relay_config.partitions * len(relay_config.domain_topics())
    assert newest and {k: heads[k] for k in newest} == newest
    assert {heads[k] for k in set(heads) - set(newest)} <= {relay_config.start_after}


def test_an_event_kafka_cannot_take_is_dead_lettered_and_later_events_go_on(
    stack: Settings, writer: Writer, relay_config: RelayConfig
) -> None:
    """A producer limit below one stored event (as a course.published over Kafka's 1 MB once
    was): that event goes to the relay's dead-letter topic by reference, the relay keeps
    running, and every event after it reaches Kafka."""
    config = RelayConfig(name=relay_config.name, topic_prefix=relay_config.topic_prefix,
                         start_after=relay_config.start_after, poll_interval=0.2,
                         producer_overrides={"message.max.bytes": 20_000})
    admin, course, module, lesson = m.Actor(uuid4(), "admin"), uuid4(), uuid4(), uuid4()
    with running_relay(stack, config) as relay:
        writer.run(writer.bus.execute(m.CreateCourse(course, "Large"), admin))
        writer.run(writer.bus.execute(m.AddModule(course, module, "M"), admin))
        writer.run(writer.bus.execute(
            m.AddLesson(course, module, lesson, "Huge", "word " * 10_000, []), admin))
        writer.run(writer.bus.execute(m.AddModule(course, uuid4(), "After"), admin))
        stored = stored_events(stack, {course})
        wait_until(lambda: (checkpoint(stack, config.name) or 0) >= stored[-1].position,
                   "the relay to pass the event it cannot deliver")
        assert not relay._stopping.is_set()

    received = read_topics(stack, config.topics())
    letters = [r for r in received if r.topic == config.dead_letter_topic]
    assert len(letters) == 1
    letter = json.loads(letters[0].value)
    huge = next(e for e in stored if e.event_type == "course.lesson_added")
    assert letter["kind"] == "undeliverable" and letter["bytes"] > 20_000
    assert letter["event"]["position"] == huge.position
    assert letter["event"]["event_id"] == str(huge.event_id)
    on_course_topic = sorted(decoder(stack).decode(r.value, r.topic)["position"]
                             for r in received if r.topic.endswith(".course")
                             and UUID(r.key.decode()) == course)
    assert on_course_topic == [e.position for e in stored if e.position != huge.position]
