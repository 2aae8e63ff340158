"""An instructor's own courses with their enrollment and completion counts."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from query_api.deps import InstructorReader, InstructorSelf
from query_api.models import CourseStatus, InstructorCourse, read_responses
from query_api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after
from query_api.reads import instructor_courses

router = APIRouter(tags=["instructors"])


@router.get("/instructors/{instructor_id}/courses", responses=read_responses(401, 403))
async def list_instructor_courses(
    instructor_id: UUID,
    user: InstructorSelf,
    read: InstructorReader,
    status: CourseStatus | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[InstructorCourse]:
    """Every course of the instructor, drafts included, by title (the instructor or admins)."""
    start = after(cursor, instructor_courses.SORT_KEY)
    async with read() as snap:
        return await instructor_courses.list_courses(snap.conn, instructor_id, status, limit,
                                                     start)
