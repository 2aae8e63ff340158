"""Deterministic identities: the same inputs always name the same aggregate or event."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c5a8e-2f4b-4c1e-9a57-0c4d7e3b9a10")


def enrollment_id(course_id: UUID, student_id: UUID, attempt: int = 0) -> UUID:
    """The student's `attempt`-th enrollment in the course (0 for the first): a repeated
    enroll names the same aggregate, a re-enrollment after a cancellation a new one."""
    if attempt == 0:
        return uuid5(NAMESPACE, f"enrollment:{course_id}:{student_id}")
    return uuid5(NAMESPACE, f"enrollment:{course_id}:{student_id}:{attempt}")


def notification_id(source_event_id: UUID, template: str) -> UUID:
    """One notification per (causing event, template): a redelivered event asks again for
    the same notification, which then is never sent twice."""
    return uuid5(NAMESPACE, f"notification:{source_event_id}:{template}")


def certificate_id(enrollment: UUID) -> UUID:
    """One certificate per completed enrollment."""
    return uuid5(NAMESPACE, f"certificate:{enrollment}")


def preferences_id(user_id: UUID) -> UUID:
    """The notification preferences of one user."""
    return uuid5(NAMESPACE, f"notification-preferences:{user_id}")


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """An event is identified by its place in its aggregate's history."""
    return uuid5(NAMESPACE, f"event:{aggregate_id}:{version}")


def email_claim_id(normalised_email: str) -> UUID:
    """The one claim stream of an email address (already normalised: identity.emails)."""
    return uuid5(NAMESPACE, f"email:{normalised_email}")
