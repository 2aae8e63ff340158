"""A student's enrollments with progress percent and next lesson."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from commands.domain.errors import NotFound
from projections import progress_snapshot
from query_api import access
from query_api.deps import CurrentUser, EnrollmentReader, Reader, StudentSelf, reading
from query_api.models import Enrollment, EnrollmentState, read_responses
from query_api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after
from query_api.reads import enrollments

router = APIRouter(tags=["enrollments"])


@router.get("/students/{student_id}/enrollments", responses=read_responses(401, 403))
async def list_student_enrollments(
    student_id: UUID,
    user: StudentSelf,
    read: EnrollmentReader,
    state: EnrollmentState | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Enrollment]:
    """The student's enrollments, newest first (the student or admins)."""
    start = after(cursor, enrollments.SORT_KEY)
    async with read() as snap:
        return await enrollments.list_enrollments(snap.conn, student_id, state, limit, start)


@router.get("/enrollments/{enrollment_id}", responses=read_responses(401, 403, 404))
async def get_enrollment(enrollment_id: UUID, user: CurrentUser,
                         read: EnrollmentReader) -> Enrollment:
    """One enrollment with its progress (its student or admins)."""
    async with read() as snap:
        found = await enrollments.get_enrollment(snap.conn, enrollment_id)
    if found is None:
        raise NotFound("no such enrollment", "enrollment.not_found")
    access.ensure_self_or_admin(user, found.student_id, "enrollments")
    return found


class LessonProgress(BaseModel):
    lesson_id: UUID
    status: str  # NOT_STARTED | COMPLETED
    completed_at: datetime | None


class EnrollmentProgress(BaseModel):
    enrollment_id: UUID
    step: str  # the workflow's: RECORDED | PROGRESS_INITIALISED | ACTIVE | COMPLETED | CANCELLED
    total_lessons: int
    lessons: list[LessonProgress]


ProgressReader = Annotated[Reader, Depends(reading("enrollment_progress", "student_enrollments"))]


@router.get("/enrollments/{enrollment_id}/progress", responses=read_responses(401, 403, 404))
async def get_enrollment_progress(enrollment_id: UUID, user: CurrentUser, request: Request,
                                  response: Response, read: ProgressReader,
                                  source: Literal["snapshot", "database"] = "snapshot",
                                  ) -> EnrollmentProgress:
    """The enrollment workflow's step and every lesson's status (its student or admins).

    Without a consistency token it answers from the Redis snapshot when there is one
    (`X-Progress-Source: snapshot`); with a token, with `source=database`, or without a
    snapshot, from PostgreSQL (the truth)."""
    snapshot = None
    if read.token is None and source == "snapshot":
        snapshot = progress_snapshot.read(
            await request.app.state.redis.hgetall(progress_snapshot.key(enrollment_id)))
    async with read() as snap:
        found = await enrollments.get_enrollment(snap.conn, enrollment_id)
        if snapshot is not None and found is not None:
            access.ensure_self_or_admin(user, found.student_id, "enrollments")
            response.headers["X-Progress-Source"] = "snapshot"
            return EnrollmentProgress(enrollment_id=enrollment_id, step=snapshot["step"],
                                      total_lessons=snapshot["total_lessons"], lessons=[
                                          LessonProgress(completed_at=None, **lesson)
                                          for lesson in snapshot["lessons"]])
        response.headers["X-Progress-Source"] = "database"
        head = await (await snap.conn.execute(
            "SELECT step, total_lessons FROM read_models.enrollment_progress"
            " WHERE enrollment_id = %s", [enrollment_id])).fetchone()
        lessons = await (await snap.conn.execute(
            "SELECT lesson_id, status, completed_at FROM read_models.enrollment_lessons"
            " WHERE enrollment_id = %s ORDER BY ordinal, lesson_id", [enrollment_id])).fetchall()
    if found is None or head is None:
        raise NotFound("no such enrollment", "enrollment.not_found")
    access.ensure_self_or_admin(user, found.student_id, "enrollments")
    return EnrollmentProgress(
        enrollment_id=enrollment_id, step=head[0], total_lessons=head[1],
        lessons=[LessonProgress(lesson_id=r[0], status=r[1], completed_at=r[2]) for r in lessons])
