"""The enrollment process manager: which commands each fact asks for, deterministically."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from commands import messages as m
from commands.adapters.event_store import StoredEvent
from commands.domain.ids import notification_id
from streams.workflows.enrollment import Backoff, course_start_moved, decide

WEEK = timedelta(days=7)
AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def event(event_type: str, **payload: object) -> StoredEvent:
    return StoredEvent(event_id=uuid4(), event_type=event_type,
                       aggregate_type=event_type.split(".")[0], aggregate_id=uuid4(),
                       version=1, position=1, occurred_at=AT, actor=None,
                       correlation_id=uuid4(), causation_id=None, schema_version=1,
                       payload=payload)


def commands(e: StoredEvent) -> list[object]:
    return [step.command for step in decide(e, WEEK)]


def test_a_new_enrollment_gets_its_progress_initialised_or_is_cancelled_if_refused() -> None:
    created = event("enrollment.created", course_id=str(uuid4()), student_id=str(uuid4()))

    (step,) = decide(created, WEEK)

    assert step.command == m.InitialiseProgress(created.aggregate_id)
    assert isinstance(step.undo, m.CancelEnrollment)
    assert step.undo.enrollment_id == created.aggregate_id


def test_initialised_progress_welcomes_the_student_then_activates() -> None:
    initialised = event("enrollment.progress_initialised", lesson_ids=[], total_lessons=0)

    welcome, activate = commands(initialised)

    assert welcome == m.NotifyAboutEnrollment(
        notification_id(initialised.event_id, "welcome"), initialised.aggregate_id, "welcome")
    assert activate == m.ActivateEnrollment(initialised.aggregate_id)


def test_activity_reschedules_the_inactivity_reminder_from_the_events_own_time() -> None:
    for kind in ("enrollment.activated", "enrollment.progressed"):
        fact = event(kind)

        schedule = commands(fact)[0]

        assert isinstance(schedule, m.ScheduleReminder)
        assert (schedule.kind, schedule.due_at) == ("inactive", (AT + WEEK).isoformat())
        assert commands(fact)[0] == schedule  # the same fact, the same timer id


def test_completion_issues_a_certificate_and_the_certificate_is_announced() -> None:
    completed = event("enrollment.completed")
    enrollment = uuid4()
    issued = event("certificate.issued", enrollment_id=str(enrollment))

    assert commands(completed) == [m.IssueCertificate(completed.aggregate_id)]
    (announce,) = commands(issued)
    assert (announce.enrollment_id, announce.template) == (enrollment, "certificate")


def test_other_facts_ask_for_nothing() -> None:
    assert commands(event("enrollment.quiz_scored")) == []
    assert commands(event("course.created")) == []


def test_backoff_grows_exponentially_with_full_jitter_under_a_cap() -> None:
    backoff, rng = Backoff(attempts=6, base_delay=0.2, max_delay=1.0), random.Random(7)

    delays = [[backoff.delay(n, rng) for _ in range(200)] for n in (1, 2, 3, 4)]

    assert [max(d) <= c for d, c in zip(delays, (0.2, 0.4, 0.8, 1.0), strict=True)] == [True] * 4
    assert max(delays[3]) > 0.8 and min(delays[3]) < 0.2  # spread over the whole range


def test_activation_schedules_the_course_starting_soon_reminder_once() -> None:
    activated = event("enrollment.activated")

    inactive, starting = commands(activated)

    assert isinstance(inactive, m.ScheduleReminder)
    assert starting == m.ScheduleCourseStartReminder(
        activated.aggregate_id, starting.reminder_id, 48 * 3600.0, AT.isoformat())
    assert commands(activated)[1] == starting  # the same fact, the same timer id
    (later,) = [s.command for s in decide(activated, WEEK, timedelta(hours=6))][1:]
    assert later.lead_seconds == 6 * 3600
    assert commands(event("enrollment.progressed"))[1:] == []  # progress does not move it


def test_a_moved_start_reschedules_the_reminder_of_every_enrollment_holding_a_seat() -> None:
    moved = event("course.start_date_changed", starts_at="2027-01-11T09:00:00+00:00")
    seats = [uuid4(), uuid4()]

    steps = course_start_moved(moved, seats, timedelta(hours=48))

    assert [s.command.enrollment_id for s in steps] == sorted(seats)
    assert all(s.command.at == AT.isoformat() and s.undo is None for s in steps)
    ids = {s.command.reminder_id for s in steps}
    assert len(ids) == 2  # one timer per enrollment, derived from the change
    assert {s.command.reminder_id for s in course_start_moved(moved, seats, WEEK)} == ids
    first = commands(event("enrollment.activated"))[1]
    assert first.reminder_id not in ids  # a new timer replaces the activation's one
    assert decide(moved, WEEK) == []  # the runner names the enrollments


def test_a_fired_course_start_reminder_sends_the_starting_soon_message() -> None:
    fired = event("enrollment.reminder_fired", reminder_id=str(uuid4()), kind="course_start",
                  fired_at=AT.isoformat())
    nudge = event("enrollment.reminder_fired", reminder_id=str(uuid4()), kind="inactive",
                  fired_at=AT.isoformat())

    (starting,) = commands(fired)
    (reminder,) = commands(nudge)

    assert starting == m.NotifyAboutEnrollment(
        notification_id(fired.event_id, "course_starting"), fired.aggregate_id,
        "course_starting")
    assert reminder.template == "reminder"
