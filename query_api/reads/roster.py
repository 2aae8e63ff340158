"""A course's roster: its enrollments with progress (`course_roster`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from query_api.models import RosterEntry
from query_api.pagination import Page, page
from query_api.reads.sql import Where

SORT_KEY = (datetime, UUID)  # (enrolled_at, enrollment_id), in enrollment order


async def list_roster(conn: AsyncConnection, course_id: UUID, state: str | None, limit: int,
                      after: tuple[Any, ...] | None) -> Page[RosterEntry]:
    where = Where().add("course_id = %s", course_id)
    if state is not None:
        where.add("state = %s", state)
    if after is not None:
        where.add("(enrolled_at, enrollment_id) > (%s, %s)", *after)
    statement = sql.SQL(
        "SELECT enrollment_id, student_id, state, completed_count, total_lessons,"
        " progress_percent, quiz_average, enrolled_at, completed_at, updated_at"
        " FROM read_models.course_roster WHERE {}"
        " ORDER BY enrolled_at, enrollment_id LIMIT %s"
    ).format(where.sql())
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(statement, [*where.params, limit + 1])
        rows = await cur.fetchall()
    kept, next_cursor = page(rows, limit, lambda r: (r["enrolled_at"], r["enrollment_id"]))
    return Page[RosterEntry](items=[entry(r) for r in kept], next_cursor=next_cursor)


def entry(row: dict[str, Any]) -> RosterEntry:
    quiz = row["quiz_average"]
    return RosterEntry(
        enrollment_id=row["enrollment_id"], student_id=row["student_id"], state=row["state"],
        completed_count=row["completed_count"], total_lessons=row["total_lessons"],
        progress_percent=float(row["progress_percent"] or 0),
        quiz_average=float(quiz) if quiz is not None else None,
        enrolled_at=row["enrolled_at"], completed_at=row["completed_at"],
        updated_at=row["updated_at"],
    )
