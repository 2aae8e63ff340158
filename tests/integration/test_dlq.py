"""Dead letters end to end: a poison message parks its aggregate (and only it), its letters
are in PostgreSQL and on the dead-letter topic, and `smartcourse dlq replay` brings the
aggregate back. The pipeline (database, topics, relay, worker) is the test's own, as in
test_worker.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from commands import messages as m
from commands.adapters.avro_contracts import EventEncoder, registry_client
from commands.adapters.event_store import COLUMNS, StoredEvent
from smartcourse.settings import Settings
from tests.integration.test_worker import (
    DEADLINE,
    Pipeline,
    Writer,
    query,
    wait_until,
)
from tests.integration.test_worker import pipeline as pipeline  # noqa: F401 - fixtures
from tests.integration.test_worker import writer as writer  # noqa: F401

pytestmark = pytest.mark.integration

COURSE_PROJECTIONS = {
    "course_catalog",
    "course_detail",
    "instructor_courses",
    "student_enrollments",
    "audit_log",
}


def produce_garbage(
    settings: Settings, topic: str, key: UUID, value: bytes = b"\x13not avro at all"
) -> tuple[int, int]:
    """A message keyed (and so partitioned) as the relay keys the aggregate's events, by
    default one no decoder can read; returns its partition and offset."""
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "acks": "all",
            "partitioner": "murmur2_random",
        }
    )  # as the relay's
    placed: list[Any] = []
    producer.produce(
        topic,
        key=str(key).encode(),
        value=value,
        on_delivery=lambda error, message: placed.append((error, message)),
    )
    assert producer.flush(DEADLINE) == 0
    ((error, message),) = placed
    assert error is None, error
    return message.partition(), message.offset()


def letters(
    pipeline: Pipeline, where: str = "true", params: list[Any] | None = None
) -> list[dict[str, Any]]:
    rows = query(
        pipeline.settings,
        "SELECT id, projection, aggregate_id, event_id, reason,"
        ' topic, partition, "offset", replayed_at FROM read_models.dead_letters'
        f" WHERE {where} ORDER BY id",
        params,
    )
    keys = (
        "id",
        "projection",
        "aggregate_id",
        "event_id",
        "reason",
        "topic",
        "partition",
        "offset",
        "replayed_at",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


def read_dead_letter_topic(
    settings: Settings, topic: str, ids: set[int]
) -> dict[int, dict[str, Any]]:
    """The dead-letter topic's messages by letter id, read until every one of `ids` came
    (a redelivered batch may have sent some twice)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: dict[int, dict[str, Any]] = {}
        end = time.monotonic() + DEADLINE
        while not ids <= found.keys():
            assert time.monotonic() < end, f"letters {ids - found.keys()} not on {topic}"
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                value = json.loads(message.value())
                found[value["id"]] = {
                    "key": message.key(),
                    "value": value,
                    "headers": dict(message.headers() or []),
                }
        return found
    finally:
        consumer.close()


def course_state(pipeline: Pipeline, course: UUID) -> dict[str, Any]:
    (title,) = query(
        pipeline.settings,
        "SELECT title FROM read_models.course_details WHERE course_id = %s",
        [course],
    )[0]
    (catalog_title,) = query(
        pipeline.settings,
        "SELECT title FROM read_models.catalog_courses WHERE course_id = %s",
        [course],
    )[0]
    (modules,) = query(
        pipeline.settings,
        "SELECT count(*) FROM read_models.course_modules WHERE course_id = %s",
        [course],
    )[0]
    return {"title": title, "catalog_title": catalog_title, "modules": modules}


@pytest.fixture
def running(pipeline: Pipeline) -> Iterator[Pipeline]:  # noqa: F811 - the imported fixture
    pipeline.start_relay()
    pipeline.start_worker()
    yield pipeline


def test_a_poison_message_parks_its_aggregate_until_replayed(
    running: Pipeline,
    writer: Writer,  # noqa: F811
) -> None:
    teacher = m.Actor(uuid4(), "instructor")
    poisoned, healthy = uuid4(), uuid4()

    def run(*commands: Any) -> None:
        for command in commands:
            writer.run(writer.bus.execute(command, teacher))

    run(
        m.CreateCourse(poisoned, "Poisoned"),
        m.AddModule(poisoned, uuid4(), "One"),
        m.CreateCourse(healthy, "Healthy"),
        m.AddModule(healthy, uuid4(), "One"),
    )
    running.wait_for_position(writer.head(), "the courses to be projected")

    topic = f"{running.prefix}.course"
    partition, offset = produce_garbage(running.settings, topic, poisoned)
    wait_until(
        lambda: len(letters(running, "reason = 'undecodable'")) == len(COURSE_PROJECTIONS),
        "the poison message in every course projection's dead letters",
    )
    poison = letters(running, "reason = 'undecodable'")
    assert {p["projection"] for p in poison} == COURSE_PROJECTIONS
    assert {(p["aggregate_id"], p["topic"], p["partition"], p["offset"]) for p in poison} == {
        (poisoned, topic, partition, offset)
    }

    # Later events of the poisoned course wait behind it; the other course goes on.
    run(
        m.ReviseCourseDetails(poisoned, "Poisoned, revised", "", []),
        m.AddModule(poisoned, uuid4(), "Two"),
        m.AddModule(healthy, uuid4(), "Two"),
    )
    running.wait_for_position(writer.head(), "the new events to be handled")
    assert course_state(running, healthy)["modules"] == 2
    assert course_state(running, poisoned) == {
        "title": "Poisoned",
        "catalog_title": "Poisoned",
        "modules": 1,
    }
    later = [
        event_id
        for (event_id,) in query(
            running.settings,
            "SELECT event_id FROM event_store.events WHERE aggregate_id = %s"
            " AND version > 2 ORDER BY version",
            [poisoned],
        )
    ]
    parked = letters(running, "projection = 'course_detail' AND reason = 'aggregate_parked'")
    assert [p["event_id"] for p in parked] == later

    # Every letter is on the dead-letter topic too, with its reason and source.
    waiting = letters(running)
    on_topic = read_dead_letter_topic(
        running.settings, f"{running.prefix}.dlq", {w["id"] for w in waiting}
    )
    assert on_topic.keys() == {w["id"] for w in waiting}
    first = on_topic[poison[0]["id"]]
    assert first["key"] == str(poisoned).encode()
    assert first["headers"]["reason"] == b"undecodable"
    assert (first["value"]["topic"], first["value"]["offset"]) == (topic, offset)

    listed = running.cli("dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert {int(line.split("\t")[0]) for line in listed.stdout.splitlines()} == {
        w["id"] for w in waiting
    }
    shown = running.cli("dlq", "show", str(parked[0]["id"]))
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["reason"] == "aggregate_parked"
    assert detail["event"]["event_type"] == "course.details_revised"

    # One projection's letters first: only that projection has the course back.
    detail_poison = next(p for p in poison if p["projection"] == "course_detail")
    replayed = running.cli("dlq", "replay", str(detail_poison["id"]))
    assert replayed.returncode == 0, replayed.stderr
    assert "ok" in replayed.stdout
    assert course_state(running, poisoned) == {
        "title": "Poisoned, revised",
        "catalog_title": "Poisoned",
        "modules": 2,
    }
    assert not letters(running, "projection = 'course_detail' AND replayed_at IS NULL")

    replayed = running.cli("dlq", "replay", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert course_state(running, poisoned)["catalog_title"] == "Poisoned, revised"
    assert not letters(running, "replayed_at IS NULL")

    # Unparked: the course's next event is applied live again.
    run(m.AddModule(poisoned, uuid4(), "Three"))
    running.wait_for_position(writer.head(), "the event after the replay")
    assert course_state(running, poisoned)["modules"] == 3
    assert not letters(running, "replayed_at IS NULL")

    again = running.cli("dlq", "replay", str(detail_poison["id"]))
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: dlq: dead letter")
    missing = running.cli("dlq", "replay", "999999999")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "error: dlq: no dead letter 999999999",
    )


def test_an_event_from_nowhere_parks_with_a_version_gap_and_the_store_wins_on_replay(
    running: Pipeline,
    writer: Writer,  # noqa: F811
) -> None:
    """A well-formed event that is not the next version of its aggregate (here one that was
    never in the store) parks the aggregate; replaying applies what the store holds."""
    teacher = m.Actor(uuid4(), "instructor")
    course = uuid4()
    writer.run(writer.bus.execute(m.CreateCourse(course, "Gap"), teacher))
    running.wait_for_position(writer.head(), "the course to be projected")

    (row,) = query(
        running.settings,
        f"SELECT {COLUMNS} FROM event_store.events WHERE aggregate_id = %s",
        [course],
    )
    created = StoredEvent(*row)
    forged = StoredEvent(
        **{
            **vars(created),
            "event_id": uuid4(),
            "version": 5,
            "event_type": "course.module_added",
            "payload": {"module_id": str(uuid4()), "title": "Forged", "index": 0},
        }
    )
    topic = f"{running.prefix}.course"
    encoder = EventEncoder(registry_client(running.settings.registry_url))
    produce_garbage(running.settings, topic, course, encoder.encode(forged, topic))
    writer.run(writer.bus.execute(m.AddModule(course, uuid4(), "Real"), teacher))
    running.wait_for_position(writer.head(), "the forged and the real event to be handled")

    gaps = letters(running, "reason = 'version_gap'")
    assert {g["projection"] for g in gaps} == COURSE_PROJECTIONS
    assert {g["event_id"] for g in gaps} == {forged.event_id}
    assert len(letters(running, "reason = 'aggregate_parked'")) == len(COURSE_PROJECTIONS)
    assert course_state(running, course)["modules"] == 0

    replayed = running.cli("dlq", "replay", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert [
        title
        for (title,) in query(
            running.settings,
            "SELECT title FROM read_models.course_modules WHERE course_id = %s",
            [course],
        )
    ] == ["Real"]
    assert not letters(running, "replayed_at IS NULL")
