"""Every PostgreSQL projection, by name."""

from __future__ import annotations

from projections.base import Projection
from projections.read_models import (
    audit_log,
    certificates,
    course_catalog,
    course_detail,
    course_roster,
    enhancement_drafts,
    enrollment_progress,
    instructor_courses,
    quiz_attempts,
    student_enrollments,
    user_profiles,
)

PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (
        course_catalog.PROJECTION, course_detail.PROJECTION, instructor_courses.PROJECTION,
        student_enrollments.PROJECTION, course_roster.PROJECTION,
        enrollment_progress.PROJECTION, certificates.PROJECTION, audit_log.PROJECTION,
        user_profiles.PROJECTION, quiz_attempts.PROJECTION, enhancement_drafts.PROJECTION,
    )
}


class UnknownProjection(KeyError):
    def __str__(self) -> str:
        return f"unknown projection {self.args[0]!r} (known: {', '.join(PROJECTIONS)})"


def get(name: str) -> Projection:
    try:
        return PROJECTIONS[name]
    except KeyError:
        raise UnknownProjection(name) from None
