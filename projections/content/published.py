"""The text of a publish's lessons, read from the course's own stream in the event store.

`course.published` carries each lesson by reference (ids, title, the SHA-256 of its text),
so it never grows with the content (commands/domain/limits.py). The publishing workflow and a
Weaviate rebuild get the text here: the course's events are folded, with the Course
aggregate's own apply steps, up to that publish, and every lesson's text is checked against
its hash. Events written before the reference still carry the text; they are used as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from commands.adapters.event_codec import decode_event
from commands.adapters.event_store import COLUMNS, StoredEvent
from commands.domain.course import Course, content_sha256
from projections.content.chunking import Lesson

Load = Callable[[UUID], Awaitable[Sequence[StoredEvent]]]
PUBLISHED = "course.published"


class ContentUnavailable(LookupError):
    """The store does not hold the text a publish refers to (it is not that publish's)."""


def by_reference(lessons: Sequence[Lesson]) -> bool:
    return any(lesson.content is None for lesson in lessons)


def fold_to_publish(events: Sequence[StoredEvent], content_version: int) -> Course:
    """The course as it was when `content_version` was published."""
    course: Course | None = None
    for event in events:
        if event.event_type == PUBLISHED and int(event.payload["content_version"]) == \
                content_version:
            if course is None:
                break
            return course
        course = decode_event(event.event_type, event.aggregate_id, event.version,
                              event.occurred_at, event.payload).mutate(course)
    raise ContentUnavailable(f"no course.published of content version {content_version}")


def resolve(course: Course, lessons: Sequence[Lesson]) -> tuple[Lesson, ...]:
    """Each lesson with its text from the course, checked against the reference."""
    resolved = []
    for lesson in lessons:
        if lesson.content is not None:
            resolved.append(lesson)
            continue
        found = course.lessons.get(lesson.lesson_id)
        if found is None:
            raise ContentUnavailable(f"lesson {lesson.lesson_id} is not in the course's stream")
        text = found["content"]
        if lesson.content_sha256 is not None and content_sha256(text) != lesson.content_sha256:
            raise ContentUnavailable(f"lesson {lesson.lesson_id}: the stored text does not "
                                     "match the published hash")
        resolved.append(replace(lesson, content=text))
    return tuple(resolved)


class FileTexts(Protocol):
    """The text a lesson's stored assets add (assets/texts.py; blocking I/O)."""

    def lesson_text(self, content: str, files: Sequence[dict[str, Any]]) -> str: ...


def with_files(course: Course, lessons: Sequence[Lesson],
               texts: FileTexts | None) -> tuple[Lesson, ...]:
    """Each lesson's text followed by its stored assets' text (the same bytes, by hash)."""
    files = {lesson.lesson_id: course.lessons[lesson.lesson_id].get("files", ())
             for lesson in lessons if lesson.lesson_id in course.lessons}
    if not any(files.values()):
        return tuple(lessons)
    if texts is None:
        raise ContentUnavailable("lessons have stored assets and no object store to read")
    return tuple(replace(lesson, content=texts.lesson_text(lesson.content or "", found))
                 if (found := files.get(lesson.lesson_id)) else lesson
                 for lesson in lessons)


class PublishedContent:
    """Resolves lessons by reference through `load` (the course's events, in version order),
    with the text of their stored assets through `files`."""

    def __init__(self, load: Load, files: FileTexts | None = None) -> None:
        self._load = load
        self._files = files

    async def lessons(self, course_id: UUID, content_version: int,
                      lessons: Sequence[Lesson]) -> tuple[Lesson, ...]:
        if not by_reference(lessons):
            return tuple(lessons)
        events = await self._load(course_id)
        course = fold_to_publish(events, content_version)
        resolved = resolve(course, lessons)
        return await asyncio.to_thread(with_files, course, resolved, self._files)


def stream_loader(pool: AsyncConnectionPool) -> Load:
    """A course's events straight from the store (for tools without an EventStore)."""
    async def load(course_id: UUID) -> list[StoredEvent]:
        async with pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT {COLUMNS} FROM event_store.events WHERE aggregate_id = %s"
                " ORDER BY version", [course_id])).fetchall()
        return [StoredEvent(*row) for row in rows]
    return load


def published_lessons(dsn: str, published: StoredEvent,
                      files: FileTexts | None = None) -> tuple[Lesson, ...]:
    """The lessons of a stored course.published with their text (for tools and tests that
    hold the event, not an EventStore): one synchronous read of the course's stream."""
    import psycopg

    lessons = [Lesson.from_payload(item) for item in published.payload["lessons"]]
    if not by_reference(lessons):
        return tuple(lessons)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM event_store.events WHERE aggregate_id = %s"
                            " ORDER BY version", [published.aggregate_id]).fetchall()
    course = fold_to_publish([StoredEvent(*row) for row in rows],
                             int(published.payload["content_version"]))
    return with_files(course, resolve(course, lessons), files)
