"""The Redis progress snapshot's pure parts: the arguments an event writes, the reading."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from commands.adapters.event_store import StoredEvent
from projections.progress_snapshot import arguments, read


def event(event_type: str, version: int, **payload: object) -> StoredEvent:
    return StoredEvent(event_id=uuid4(), event_type=event_type, aggregate_type="enrollment",
                       aggregate_id=uuid4(), version=version, position=version,
                       occurred_at=datetime(2026, 12, 3, tzinfo=UTC), actor=None,
                       correlation_id=uuid4(), causation_id=None, schema_version=1,
                       payload=payload)


def test_initialisation_writes_every_lesson_not_started_unless_already_completed() -> None:
    first, second = uuid4(), uuid4()

    args = arguments(event("enrollment.progress_initialised", 2,
                           lesson_ids=[str(first), str(second)], total_lessons=2))

    assert args == ["2", "PROGRESS_INITIALISED", "2",
                    f"lesson:{first}", "0|NOT_STARTED", "1",
                    f"lesson:{second}", "1|NOT_STARTED", "1"]


def test_progress_marks_its_lesson_and_unrelated_events_write_nothing() -> None:
    lesson = uuid4()
    assert arguments(event("enrollment.progressed", 4, lesson_id=str(lesson),
                           completed_count=1, total_lessons=2)) == [
        "4", "", "", f"lesson:{lesson}", "1000000|COMPLETED", "0"]
    assert arguments(event("enrollment.activated", 3)) == ["3", "ACTIVE", ""]
    assert arguments(event("enrollment.quiz_scored", 5)) is None


def test_a_snapshot_reads_back_in_lesson_order() -> None:
    first, second = str(uuid4()), str(uuid4())
    stored = {b"version": b"4", b"step": b"ACTIVE", b"total": b"2",
              f"lesson:{second}".encode(): b"1|COMPLETED",
              f"lesson:{first}".encode(): b"0|NOT_STARTED"}

    assert read(stored) == {"step": "ACTIVE", "total_lessons": 2, "lessons": [
        {"lesson_id": first, "status": "NOT_STARTED"},
        {"lesson_id": second, "status": "COMPLETED"}]}
    assert read({}) is None
