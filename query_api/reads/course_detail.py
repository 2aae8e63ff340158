"""One course with its modules and lessons in order (`course_details`, `course_modules`,
`course_lessons`), plus its free seats from the catalog."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from query_api.models import CourseDetail, Lesson, Module

COURSE = """
SELECT d.course_id, d.instructor_id, d.title, d.description, d.tags, d.status,
       d.content_version, d.ready_version, d.capacity, d.updated_at, c.seats_available,
       d.score_policy, d.require_passing_quizzes, d.starts_at
FROM read_models.course_details d
LEFT JOIN read_models.catalog_courses c ON c.course_id = d.course_id
WHERE d.course_id = %s
"""
MODULES = """
SELECT module_id, title FROM read_models.course_modules
WHERE course_id = %s ORDER BY module_index, module_id
"""
LESSONS = """
SELECT lesson_id, module_id, title, content_length, assets FROM read_models.course_lessons
WHERE course_id = %s ORDER BY module_index, lesson_index, lesson_id
"""


async def course_detail(conn: AsyncConnection, course_id: UUID) -> CourseDetail | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(COURSE, [course_id])
        course = await cur.fetchone()
        if course is None:
            return None
        await cur.execute(MODULES, [course_id])
        modules = await cur.fetchall()
        await cur.execute(LESSONS, [course_id])
        lessons = await cur.fetchall()
    return assemble(course, modules, lessons)


def assemble(course: dict[str, Any], modules: list[dict[str, Any]],
             lessons: list[dict[str, Any]]) -> CourseDetail:
    """Nest the (already ordered) lessons under their modules; positions count from 0."""
    by_module: dict[UUID, list[Lesson]] = {m["module_id"]: [] for m in modules}
    for row in lessons:
        siblings = by_module.get(row["module_id"])
        if siblings is None:
            continue  # the projection writes a lesson with its module; never met in practice
        siblings.append(Lesson(
            lesson_id=row["lesson_id"], title=row["title"], position=len(siblings),
            content_length=row["content_length"] or 0, assets=list(row["assets"] or []),
        ))
    return CourseDetail(
        course_id=course["course_id"], instructor_id=course["instructor_id"],
        title=course["title"], description=course["description"] or "",
        tags=list(course["tags"] or []), status=course["status"],
        content_version=course["content_version"], ready_version=course["ready_version"] or 0,
        capacity=course["capacity"], seats_available=course["seats_available"],
        updated_at=course["updated_at"], score_policy=course.get("score_policy") or "best",
        require_passing_quizzes=bool(course.get("require_passing_quizzes")),
        starts_at=course.get("starts_at"),
        modules=[Module(module_id=m["module_id"], title=m["title"], position=i,
                        lessons=by_module[m["module_id"]]) for i, m in enumerate(modules)],
    )
