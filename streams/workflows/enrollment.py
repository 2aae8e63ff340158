"""The enrollment process manager: what each enrollment fact asks the platform to do next.

    enrollment.created              -> InitialiseProgress (every lesson NOT_STARTED)
    enrollment.progress_initialised -> welcome notification, then ActivateEnrollment
    enrollment.activated/progressed -> (re)schedule the inactivity reminder (a durable timer)
    enrollment.reminder_fired       -> reminder notification
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
from commands.domain.ids import NAMESPACE, notification_id

KINDS = ("enrollment.created", "enrollment.progress_initialised", "enrollment.activated",
         "enrollment.progressed", "enrollment.reminder_fired", "enrollment.completed",
         "certificate.issued")
INACTIVE = "inactive"


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


def decide(event: StoredEvent, inactive_after: timedelta) -> list[Compensate]:
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
            return [Compensate(m.ScheduleReminder(eid, reminder_id(eid, INACTIVE, event.event_id),
                                                  INACTIVE, due), None)]
        case "enrollment.reminder_fired":
            return [Compensate(notify(eid, "reminder", event.event_id), None)]
        case "enrollment.completed":
            return [Compensate(m.IssueCertificate(eid), None)]
        case "certificate.issued":
            enrollment = UUID(str(event.payload["enrollment_id"]))
            return [Compensate(notify(enrollment, "certificate", event.event_id), None)]
    return []
