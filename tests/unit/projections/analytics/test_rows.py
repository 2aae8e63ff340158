"""Stored events to ClickHouse fact rows: derived columns, canonical payloads, batching."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.adapters.event_store import StoredEvent
from projections.analytics.rows import COLUMNS, Batch, payload_json, prepare, to_row
from projections.deliveries import EventDelivery, WatermarkDelivery

AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
_positions = iter(range(1, 1_000_000))


def event(event_type: str, aggregate_type: str, payload: dict[str, Any],
          aggregate_id: UUID | None = None, position: int | None = None) -> StoredEvent:
    return StoredEvent(
        position=position if position is not None else next(_positions), event_id=uuid4(),
        aggregate_type=aggregate_type, aggregate_id=aggregate_id or uuid4(), version=1,
        event_type=event_type, schema_version=1, payload=payload, occurred_at=AT,
        actor="someone", correlation_id=uuid4(), causation_id=None)


def row(e: StoredEvent) -> dict[str, Any]:
    return dict(zip(COLUMNS, to_row(e), strict=True))


def test_envelope_columns_come_from_the_event() -> None:
    e = event("course.created", "course", {"title": "T"})
    r = row(e)
    assert (r["event_id"], r["event_type"], r["aggregate_type"], r["aggregate_id"]) == (
        e.event_id.int, "course.created", "course", e.aggregate_id.int)
    assert (r["version"], r["position"], r["actor"], r["correlation_id"]) == (
        1, e.position, "someone", e.correlation_id.int)
    assert r["causation_id"] is None
    assert r["occurred_at"] == 1_772_368_215_123_456  # microseconds since the epoch


def test_course_events_belong_to_their_aggregate() -> None:
    course, student, enrollment = uuid4(), uuid4(), uuid4()
    r = row(event("course.seat_reserved", "course",
                  {"enrollment_id": str(enrollment), "student_id": str(student)}, course))
    assert (r["course_id"], r["enrollment_id"], r["student_id"]) == (
        course.int, enrollment.int, student.int)


def test_enrollment_created_carries_course_and_student() -> None:
    course, student, enrollment = uuid4(), uuid4(), uuid4()
    r = row(event("enrollment.created", "enrollment",
                  {"course_id": str(course), "student_id": str(student)}, enrollment))
    assert (r["course_id"], r["enrollment_id"], r["student_id"]) == (
        course.int, enrollment.int, student.int)


def test_progress_names_its_lesson_but_no_course_which_the_views_resolve() -> None:
    lesson, enrollment = uuid4(), uuid4()
    r = row(event("enrollment.progressed", "enrollment",
                  {"lesson_id": str(lesson), "completed_count": 1, "total_lessons": 3},
                  enrollment))
    assert (r["lesson_id"], r["enrollment_id"], r["course_id"], r["student_id"]) == (
        lesson.int, enrollment.int, None, None)


def test_quiz_scores_become_floats() -> None:
    r = row(event("enrollment.quiz_scored", "enrollment",
                  {"quiz_id": str(uuid4()), "score": 7, "max_score": 10.0}))
    assert (r["score"], r["max_score"]) == (7.0, 10.0)
    assert isinstance(r["score"], float)


def test_ai_requested_takes_its_course_from_the_payload() -> None:
    course = uuid4()
    r = row(event("ai.requested", "question", {"course_id": str(course), "question": "?"}))
    assert r["course_id"] == course.int


@pytest.mark.parametrize("bad", [
    "not-a-uuid", "g" * 32, "_" * 32, "+" + "0" * 31, "٣" * 32, 5, ["x"], True])
def test_malformed_ids_leave_the_column_empty_not_the_event_poisoned(bad: Any) -> None:
    r = row(event("ai.requested", "question", {"course_id": bad, "student_id": bad}))
    assert (r["course_id"], r["student_id"]) == (None, None)
    assert json.loads(r["payload"])["course_id"] == bad


def test_ids_in_any_uuid_spelling_are_read() -> None:
    course = uuid4()
    for spelling in (str(course), course.hex, str(course).upper()):
        assert row(event("ai.requested", "question", {"course_id": spelling}))["course_id"] == (
            course.int)


def test_a_bool_is_no_score() -> None:
    assert row(event("x.y", "x", {"score": True, "max_score": "10"}))["score"] is None


def test_payload_json_is_the_same_from_the_store_and_from_avro() -> None:
    from_store = {"score": 7, "quiz_id": "q", "max_score": 10}
    from_avro = {"quiz_id": "q", "max_score": 10.0, "score": 7.0}
    assert payload_json(from_store) == payload_json(from_avro) == (
        '{"max_score":10,"quiz_id":"q","score":7}')
    assert payload_json({"score": 7.5}) == '{"score":7.5}'
    assert payload_json({"title": "Ünïcode"}) == '{"title":"Ünïcode"}'


def delivery(e: StoredEvent, partition: int = 0, topic: str = "t.enrollment") -> EventDelivery:
    return EventDelivery(e, topic, partition, e.position)


def test_prepare_drops_repeats_and_tracks_positions_per_partition() -> None:
    a, b, c = (event("user.registered", "user", {}) for _ in range(3))
    items = [delivery(a, 0), delivery(b, 1), delivery(a, 0), delivery(c, 1),
             WatermarkDelivery("t.enrollment", 0, c.position + 5)]
    batch = prepare(items, {})
    assert [r[0] for r in batch.rows] == [a.event_id.int, b.event_id.int, c.event_id.int]
    assert batch.duplicates == 1
    assert batch.positions == {("t.enrollment", 0): c.position + 5,
                               ("t.enrollment", 1): c.position}


def test_prepare_skips_what_the_checkpoint_covers_but_not_store_events() -> None:
    old, new = event("user.registered", "user", {}), event("user.registered", "user", {})
    checkpoints = {("t.enrollment", 0): old.position}
    batch = prepare([delivery(old), delivery(new), old], checkpoints)
    assert [r[0] for r in batch.rows] == [new.event_id.int, old.event_id.int]
    assert batch.skipped == 1
    assert batch.positions == {("t.enrollment", 0): new.position}


def test_token_depends_on_every_event_id_in_order() -> None:
    events = [event("user.registered", "user", {}) for _ in range(3)]
    token = prepare(events, {}).token
    assert token == prepare(list(events), {}).token
    middle_changed = [events[0], event("user.registered", "user", {}), events[2]]
    assert prepare(middle_changed, {}).token != token
    assert prepare(events[::-1], {}).token != token
    assert Batch().token != token


def test_prepare_refuses_what_is_no_event() -> None:
    with pytest.raises(TypeError, match="not an event"):
        prepare([{"event_id": "x"}], {})  # type: ignore[list-item]


def test_a_registration_reaches_clickhouse_without_its_personal_fields() -> None:
    e = event("user.registered", "user", {"display_name": "Ada Lovelace",
                                           "email": "ada@example.org", "role": "student"})
    r = row(e)
    assert json.loads(r["payload"]) == {"role": "student"}
    assert all("Ada" not in str(v) and "example.org" not in str(v) for v in r.values())
