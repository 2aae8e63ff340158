"""Study-material drafts (`enhancement_drafts`, docs/adr/0042) as their instructor reads
them, with the course's instructor (`course_details`) to say who may."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

COLUMNS = """d.draft_id, d.course_id, d.lesson_id, d.lesson_title, d.status, d.source_hash,
    d.provider, d.summary, d.summary_passages, d.objectives, d.questions, d.generations,
    d.last_reason, d.stale_hash, d.quiz_id, d.accepted_hash, d.created_at, d.updated_at"""
BY_COURSE = f"""
SELECT {COLUMNS} FROM read_models.enhancement_drafts d
WHERE d.course_id = %s AND (%s::uuid IS NULL OR d.lesson_id = %s::uuid)
  AND (%s::text IS NULL OR d.status = %s::text)
ORDER BY d.lesson_title, d.draft_id
"""
ONE = f"SELECT {COLUMNS} FROM read_models.enhancement_drafts d WHERE d.draft_id = %s"
INSTRUCTOR = "SELECT instructor_id FROM read_models.course_details WHERE course_id = %s"


async def instructor_of(conn: AsyncConnection, course_id: UUID) -> UUID | None:
    row = await (await conn.execute(INSTRUCTOR, [course_id])).fetchone()
    return row[0] if row else None


async def drafts(conn: AsyncConnection, course_id: UUID, lesson_id: UUID | None,
                 status: str | None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(BY_COURSE, [course_id, lesson_id, lesson_id, status, status])
        return await cur.fetchall()


async def draft(conn: AsyncConnection, draft_id: UUID) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(ONE, [draft_id])
        return await cur.fetchone()
