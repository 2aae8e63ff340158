"""The enrollment process manager: what each enrollment fact asks the platform to do next.

    enrollment.created              -> InitialiseProgress (every lesson NOT_STARTED)
    enrollment.progress_initialised -> welcome notification, then ActivateEnrollment
    enrollment.activated/progressed -> (re)schedule the inactivity reminder (a durable timer)
    enrollment.activated            -> schedule the "course starting soon" reminder, a lead
                                       time before the course's start (if it has one ahead)
    course.start_date_changed       -> move that reminder, for each enrollment holding a seat
                                       (`course_start_moved`: the runner names them)
    enrollment.reminder_fired       -> reminder notification (course_starting for that kind)
    enrollment.completed            -> IssueCertificate
    certificate.issued              -> certificate notification

The workflow's durable state is the enrollment's own history in the event store: each step
is a fact on the aggregate, and every command is idempotent, so a redelivered or replayed
event re-issues commands the write side answers as no-ops. Analytics needs no step: the
ClickHouse sink projects the same facts. `decide` is pure (times come from the events, ids
are derived), the runner (streams/workflows/enrollment_runner.py) carries the commands out.

Compensation: a refused first step (the course is gone, say) cancels the enrollment, which
releases its seat; the refusal's reason is the cancellation's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid5

from commands import messages as m
from commands.adapters.event_store import StoredEvent
from commands.domain.enrollment import COURSE_START, INACTIVE_REMINDER
from commands.domain.ids import NAMESPACE, notification_id

KINDS = ("enrollment.created", "enrollment.progress_initialised", "enrollment.activated",
         "enrollment.progressed", "enrollment.reminder_fired", "enrollment.completed",
         "certificate.issued", "course.start_date_changed")
INACTIVE = INACTIVE_REMINDER
TEMPLATE_OF_REMINDER = {INACTIVE: "reminder", COURSE_START: "course_starting"}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniformly up to base * 2^(n-1),
    capped, so a burst of retries spreads out instead of returning in lockstep."""

    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
        return (rng or random).uniform(0, ceiling)


@dataclass(frozen=True)
class Compensate:
    """What to do when `command` is refused for good."""

    command: Any
    undo: Any | None


def reminder_id(enrollment_id: UUID, kind: str, cause: UUID) -> UUID:
    return uuid5(NAMESPACE, f"reminder:{enrollment_id}:{kind}:{cause}")


def notify(enrollment_id: UUID, template: str, cause: UUID) -> m.NotifyAboutEnrollment:
    return m.NotifyAboutEnrollment(notification_id(cause, template), enrollment_id, template)


def course_start_reminder(enrollment_id: UUID, cause: StoredEvent,
                          start_lead: timedelta) -> m.ScheduleCourseStartReminder:
    return m.ScheduleCourseStartReminder(
        enrollment_id, reminder_id(enrollment_id, COURSE_START, cause.event_id),
        start_lead.total_seconds(), cause.occurred_at.isoformat())


def course_start_moved(event: StoredEvent, enrollment_ids: list[UUID],
                       start_lead: timedelta) -> list[Compensate]:
    """A course's start date changed: each of its enrollments' reminder is scheduled anew
    (the write side reads the new date; a cleared or past one schedules nothing, and the
    reminder scheduled before no longer fires)."""
    return [Compensate(course_start_reminder(eid, event, start_lead), None)
            for eid in sorted(enrollment_ids)]


def decide(event: StoredEvent, inactive_after: timedelta,
           start_lead: timedelta = timedelta(hours=48)) -> list[Compensate]:
    """The commands one event asks for, in order, each with its compensation."""
    eid = event.aggregate_id
    match event.event_type:
        case "enrollment.created":
            return [Compensate(m.InitialiseProgress(eid),
                               m.CancelEnrollment(eid, "the enrollment workflow failed"))]
        case "enrollment.progress_initialised":
            return [Compensate(notify(eid, "welcome", event.event_id), None),
                    Compensate(m.ActivateEnrollment(eid), None)]
        case "enrollment.activated" | "enrollment.progressed":
            due = (event.occurred_at + inactive_after).isoformat()
            steps = [Compensate(m.ScheduleReminder(eid, reminder_id(eid, INACTIVE, event.event_id),
                                                   INACTIVE, due), None)]
            if event.event_type == "enrollment.activated":
                steps.append(Compensate(course_start_reminder(eid, event, start_lead), None))
            return steps
        case "enrollment.reminder_fired":
            template = TEMPLATE_OF_REMINDER.get(str(event.payload.get("kind")), "reminder")
            return [Compensate(notify(eid, template, event.event_id), None)]
        case "enrollment.completed":
            return [Compensate(m.IssueCertificate(eid), None)]
        case "certificate.issued":
            enrollment = UUID(str(event.payload["enrollment_id"]))
            return [Compensate(notify(enrollment, "certificate", event.event_id), None)]
    return []
