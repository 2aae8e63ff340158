"""Deterministic identities: the same inputs always name the same aggregate or event."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c5a8e-2f4b-4c1e-9a57-0c4d7e3b9a10")


def enrollment_id(course_id: UUID, student_id: UUID) -> UUID:
    """One enrollment per (course, student): a repeated enroll names the same aggregate."""
    return uuid5(NAMESPACE, f"enrollment:{course_id}:{student_id}")


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """An event is identified by its place in its aggregate's history."""
    return uuid5(NAMESPACE, f"event:{aggregate_id}:{version}")


def email_claim_id(normalised_email: str) -> UUID:
    """The one claim stream of an email address (already normalised: identity.emails)."""
    return uuid5(NAMESPACE, f"email:{normalised_email}")
