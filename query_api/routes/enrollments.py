"""A student's enrollments with progress percent and next lesson."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from commands.domain.errors import NotFound
from query_api import access
from query_api.deps import CurrentUser, EnrollmentReader, StudentSelf
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
