"""Certificate: issued once for a completed enrollment; public facts anyone may verify.

Its id derives from the enrollment, so the workflow's redelivered `enrollment.completed`
issues the same certificate. The names are copied in when issued (what the certificate says
stays what it said, whatever the profile or course title becomes later).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot


class Certificate(AggregateRoot):
    type_name = "certificate"

    @event("Issued")
    def __init__(self, id: UUID, enrollment_id: UUID, course_id: UUID,  # noqa: A002
                 student_id: UUID, student_name: str, course_title: str,
                 completed_at: str) -> None:
        self.enrollment_id = enrollment_id
        self.course_id = course_id
        self.student_id = student_id
        self.student_name = student_name
        self.course_title = course_title
        self.completed_at = completed_at
