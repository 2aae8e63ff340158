"""Lessons published by reference get their text back from the course's own stream, as it was
at that publish, checked against the published hash."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from commands.adapters.event_codec import event_type_of, payload_of
from commands.adapters.event_store import StoredEvent
from commands.domain.course import Course
from projections.content.chunking import Lesson
from projections.content.published import ContentUnavailable, PublishedContent


def stored(course: Course) -> list[StoredEvent]:
    return [StoredEvent(n, uuid4(), "course", course.id, e.originator_version, event_type_of(e),
                        1, payload_of(e), datetime(2026, 1, 1, tzinfo=UTC), None, uuid4(), None)
            for n, e in enumerate(course.collect_events(), start=1)]


def published_lessons(events: list[StoredEvent], version: int) -> tuple[Lesson, ...]:
    (event,) = [e for e in events if e.event_type == "course.published"
                and e.payload["content_version"] == version]
    return tuple(Lesson.from_payload(item) for item in event.payload["lessons"])


def course_published_twice() -> tuple[Course, list[StoredEvent]]:
    course = Course(id=uuid4(), instructor_id=uuid4(), title="T", description="", tags=[],
                    capacity=5, prerequisites=[])
    module, first, second = uuid4(), uuid4(), uuid4()
    course.add_module(module, "M")
    course.add_lesson(module, first, "One", "the first text", [])
    course.add_lesson(module, second, "Two", "the second text", [])
    course.publish(uuid4())
    course.revise_lesson(first, "One", "revised after the first publish")
    course.publish(uuid4())
    return course, stored(course)


def test_each_publish_gets_the_text_it_published() -> None:
    _, events = course_published_twice()

    async def load(_course_id: object) -> list[StoredEvent]:
        return events

    content = PublishedContent(load)
    first = asyncio.run(content.lessons(events[0].aggregate_id, 1, published_lessons(events, 1)))
    second = asyncio.run(content.lessons(events[0].aggregate_id, 2,
                                         published_lessons(events, 2)))

    assert [lesson.content for lesson in first] == ["the first text", "the second text"]
    assert [lesson.content for lesson in second] == ["revised after the first publish",
                                                     "the second text"]
    assert all(item.get("content") is None for e in events if e.event_type == "course.published"
               for item in e.payload["lessons"])


def test_text_that_does_not_match_the_published_hash_is_refused() -> None:
    _, events = course_published_twice()

    async def load(_course_id: object) -> list[StoredEvent]:
        return events

    lessons = published_lessons(events, 1)
    forged = (replace(lessons[0], content_sha256="0" * 64), *lessons[1:])
    with pytest.raises(ContentUnavailable, match="hash"):
        asyncio.run(PublishedContent(load).lessons(events[0].aggregate_id, 1, forged))
    with pytest.raises(ContentUnavailable, match="content version 9"):
        asyncio.run(PublishedContent(load).lessons(events[0].aggregate_id, 9, lessons))


def test_lessons_published_by_value_are_used_as_they_are() -> None:
    async def load(_course_id: object) -> list[StoredEvent]:
        raise AssertionError("nothing to read")

    old = (Lesson(uuid4(), uuid4(), "Old", "text carried in the event"),)
    assert asyncio.run(PublishedContent(load).lessons(uuid4(), 1, old)) == old
