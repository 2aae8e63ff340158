"""A student's enrollments with progress and next lesson (`student_enrollments`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from query_api.models import Enrollment, NextLesson
from query_api.pagination import Page, page
from query_api.reads.sql import Where

COLUMNS = sql.SQL(
    "enrollment_id, student_id, course_id, course_title, state, completed_lessons,"
    " completed_count, total_lessons, progress_percent, next_lesson_id, next_lesson_title,"
    " enrolled_at, completed_at, updated_at")
SORT_KEY = (datetime, UUID)  # (enrolled_at, enrollment_id), newest first


async def list_enrollments(conn: AsyncConnection, student_id: UUID, state: str | None,
                           limit: int, after: tuple[Any, ...] | None) -> Page[Enrollment]:
    where = Where().add("student_id = %s", student_id)
    if state is not None:
        where.add("state = %s", state)
    if after is not None:
        where.add("(enrolled_at, enrollment_id) < (%s, %s)", *after)
    statement = sql.SQL(
        "SELECT {} FROM read_models.student_enrollments WHERE {}"
        " ORDER BY enrolled_at DESC, enrollment_id DESC LIMIT %s"
    ).format(COLUMNS, where.sql())
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(statement, [*where.params, limit + 1])
        rows = await cur.fetchall()
    kept, next_cursor = page(rows, limit, lambda r: (r["enrolled_at"], r["enrollment_id"]))
    return Page[Enrollment](items=[enrollment(r) for r in kept], next_cursor=next_cursor)


async def get_enrollment(conn: AsyncConnection, enrollment_id: UUID) -> Enrollment | None:
    statement = sql.SQL(
        "SELECT {} FROM read_models.student_enrollments WHERE enrollment_id = %s"
    ).format(COLUMNS)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(statement, [enrollment_id])
        row = await cur.fetchone()
    return enrollment(row) if row else None


def enrollment(row: dict[str, Any]) -> Enrollment:
    next_lesson = (NextLesson(lesson_id=row["next_lesson_id"], title=row["next_lesson_title"])
                   if row["next_lesson_id"] else None)
    return Enrollment(
        enrollment_id=row["enrollment_id"], student_id=row["student_id"],
        course_id=row["course_id"], course_title=row["course_title"], state=row["state"],
        completed_lessons=list(row["completed_lessons"] or []),
        completed_count=row["completed_count"], total_lessons=row["total_lessons"],
        progress_percent=float(row["progress_percent"] or 0), next_lesson=next_lesson,
        enrolled_at=row["enrolled_at"], completed_at=row["completed_at"],
        updated_at=row["updated_at"],
    )
