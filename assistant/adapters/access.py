"""What the assistant reads from the PostgreSQL projections: the course, its ready content
version, the lessons an asker may see, and a student's progress."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.errors import UndefinedTable

from commands.domain.errors import Forbidden, NotFound
from commands.messages import Actor

VISIBLE = ("PUBLISHED", "READY")


@dataclass(frozen=True)
class LessonRef:
    lesson_id: UUID
    module_id: UUID
    title: str


@dataclass(frozen=True)
class CourseView:
    course_id: UUID
    instructor_id: UUID
    status: str
    ready_version: int | None  # None before the course's content was first made ready
    lessons: tuple[LessonRef, ...]
    completed: frozenset[UUID]  # the asker's completed lessons (students)
    next_lesson: UUID | None


async def course_view(conn: AsyncConnection, actor: Actor, course_id: UUID) -> CourseView:
    """The course as the asker may see it; NotFound/Forbidden when they may not ask."""
    row = await (await conn.execute(
        "SELECT instructor_id, status FROM read_models.course_details WHERE course_id = %s",
        [course_id])).fetchone()
    if row is None:
        raise NotFound("no such course", "course.not_found")
    instructor_id, status = row
    own = actor.is_admin or instructor_id == actor.user_id
    completed: frozenset[UUID] = frozenset()
    next_lesson = None
    if not own:
        enrollment = await (await conn.execute(
            "SELECT state, completed_lessons, next_lesson_id FROM read_models.student_enrollments"
            " WHERE student_id = %s AND course_id = %s AND state <> 'CANCELLED'",
            [actor.user_id, course_id])).fetchone()
        if enrollment is None or status not in VISIBLE:
            raise Forbidden("only students enrolled in the course, its instructor and admins "
                            "may ask about it", "ai.not_enrolled")
        completed, next_lesson = frozenset(enrollment[1] or ()), enrollment[2]
    lessons = await (await conn.execute(
        "SELECT lesson_id, module_id, title FROM read_models.course_lessons"
        " WHERE course_id = %s ORDER BY module_index, lesson_index", [course_id])).fetchall()
    try:
        ready = await (await conn.execute(
            "SELECT content_version FROM content.ready_versions WHERE course_id = %s",
            [course_id])).fetchone()
    except UndefinedTable:  # no publishing workflow has run on this database yet
        ready = None
    return CourseView(course_id, instructor_id, status, ready[0] if ready else None,
                      tuple(LessonRef(*r) for r in lessons), completed, next_lesson)
