"""An instructor's courses with enrollment and completion counts (`instructor_courses`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from query_api.models import InstructorCourse
from query_api.pagination import Page, page
from query_api.reads.sql import Where

SORT_KEY = (str, UUID)  # (title, course_id)


async def list_courses(conn: AsyncConnection, instructor_id: UUID, status: str | None,
                       limit: int, after: tuple[Any, ...] | None) -> Page[InstructorCourse]:
    where = Where().add("instructor_id = %s", instructor_id)
    if status is not None:
        where.add("status = %s", status)
    if after is not None:
        where.add("(title, course_id) > (%s, %s)", *after)
    statement = sql.SQL(
        "SELECT course_id, title, status, capacity, enrollment_count, active_count,"
        " completed_count, cancelled_count, completion_rate, updated_at"
        " FROM read_models.instructor_courses WHERE {} ORDER BY title, course_id LIMIT %s"
    ).format(where.sql())
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(statement, [*where.params, limit + 1])
        rows = await cur.fetchall()
    kept, next_cursor = page(rows, limit, lambda r: (r["title"], r["course_id"]))
    return Page[InstructorCourse](items=[course(r) for r in kept], next_cursor=next_cursor)


def course(row: dict[str, Any]) -> InstructorCourse:
    return InstructorCourse(
        course_id=row["course_id"], title=row["title"], status=row["status"],
        capacity=row["capacity"], enrollment_count=row["enrollment_count"],
        active_count=row["active_count"], completed_count=row["completed_count"],
        cancelled_count=row["cancelled_count"],
        completion_rate=float(row["completion_rate"] or 0), updated_at=row["updated_at"],
    )
