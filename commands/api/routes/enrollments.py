"""Enrollment and progress."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from commands import messages as m
from commands.api.execution import Commands
from commands.api.models import CancelBody, EnrollBody, EnrollmentWritten
from commands.unit_of_work import CommandResult

router = APIRouter(tags=["enrollments"])


def enrollment_written(result: CommandResult) -> dict[str, object]:
    return {"enrollment_id": str(result.aggregate_id), "state": result.state}


@router.post("/courses/{course_id}/enroll", status_code=202, response_model=EnrollmentWritten,
             responses={200: {"model": EnrollmentWritten,
                              "description": "already enrolled: the existing enrollment"},
                        409: {"description": "no seat left, the course is archived "
                                             "(enrollment.course_archived) or not open"},
                        422: {"description": "prerequisites missing"}})
async def enroll(course_id: UUID, commands: Commands, body: EnrollBody | None = None):
    """Enroll yourself (admins: anyone). Enrolling twice returns the same enrollment."""
    student_id = (body.student_id if body and body.student_id else None) or commands.actor.user_id
    return await commands.run(m.EnrollStudent(course_id, student_id), enrollment_written,
                              status_code=202, status_when_unchanged=200)


@router.post("/enrollments/{enrollment_id}/activate", response_model=EnrollmentWritten,
             responses={403: {"description": "students never activate their own: the "
                                             "enrollment workflow does (admins may)"}})
async def activate(enrollment_id: UUID, commands: Commands):
    """Admins only: the enrollment workflow activates every new enrollment by itself."""
    return await commands.run(m.ActivateEnrollment(enrollment_id), enrollment_written)


@router.post("/enrollments/{enrollment_id}/lessons/{lesson_id}/complete",
             response_model=EnrollmentWritten)
async def complete_lesson(enrollment_id: UUID, lesson_id: UUID, commands: Commands):
    """Record a finished lesson; the enrollment completes with its last lesson."""
    return await commands.run(m.CompleteLesson(enrollment_id, lesson_id), enrollment_written)


@router.post("/enrollments/{enrollment_id}/cancel", response_model=EnrollmentWritten)
async def cancel(enrollment_id: UUID, commands: Commands, body: CancelBody | None = None):
    command = m.CancelEnrollment(enrollment_id, body.reason if body else "")
    return await commands.run(command, enrollment_written)
