"""What the audit log records: per event type, the action's name and the details worth
keeping (never personal fields: the log outlives an erasure unchanged).

Adding an event type to the audit log is one entry in `AUDITED`: a function from the event's
payload to its details (a JSON-ready dict). `concerns` names the payload field holding the
user the action is about, when the event says it (an enrollment's later events inherit their
student from `enrollment.created`, see projections/read_models/audit_log.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Details = Callable[[Mapping[str, Any]], dict[str, Any]]


def keep(*names: str) -> Details:
    """The details: these payload fields, as they are."""
    return lambda payload: {n: payload[n] for n in names if n in payload}


@dataclass(frozen=True)
class Audited:
    details: Details
    concerns: str | None = None  # payload field naming the user concerned
    concerns_aggregate: bool = False  # the aggregate is the user concerned (user events)


AUDITED: dict[str, Audited] = {
    # Accounts and their data.
    "user.registered": Audited(keep("role"), concerns_aggregate=True),
    "user.role_changed": Audited(keep("role"), concerns_aggregate=True),
    "user.erased": Audited(keep("reason"), concerns_aggregate=True),
    "user.consent_given": Audited(keep("purpose"), concerns_aggregate=True),
    "user.consent_withdrawn": Audited(keep("purpose"), concerns_aggregate=True),
    "user.deactivated": Audited(keep("reason"), concerns_aggregate=True),
    "user.reactivated": Audited(keep(), concerns_aggregate=True),
    "user.password_changed": Audited(keep(), concerns_aggregate=True),
    # Enrollment changes and grades.
    "enrollment.created": Audited(keep("course_id", "student_id"), concerns="student_id"),
    "enrollment.activated": Audited(keep()),
    "enrollment.cancelled": Audited(keep("reason")),
    "enrollment.completed": Audited(keep()),
    "enrollment.quiz_scored": Audited(keep("quiz_id", "score", "max_score")),
    # Graded by the server (the answers themselves are not kept here).
    "enrollment.quiz_attempted": Audited(keep("quiz_id", "attempt", "score", "max_score",
                                              "passed")),
    # Course administration (who opened, changed the rules of, or closed a course).
    "course.created": Audited(keep("instructor_id", "capacity", "prerequisites")),
    "course.capacity_changed": Audited(keep("capacity")),
    "course.prerequisites_set": Audited(keep("prerequisites")),
    "course.published": Audited(keep("content_version")),
    "course.reverted_to_draft": Audited(keep("reason")),
    "course.archived": Audited(keep()),
    "course.restored": Audited(keep()),
    "course.deleted": Audited(keep()),
    # Later: "ai.completed": Audited(keep("course_id", "model", "grounded"), concerns=...).
}

AGGREGATE_TYPES = tuple(sorted({t.split(".")[0] for t in AUDITED}))
