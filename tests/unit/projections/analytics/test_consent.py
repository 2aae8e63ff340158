"""Analytics consent (pure): an event is reduced when a user it names had withdrawn the
`analytics` consent at its position, and only then."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from commands.adapters.event_store import StoredEvent
from projections.analytics.consent import Consents, pseudonym, users_named
from projections.analytics.rows import prepare


def event(position: int, event_type: str, aggregate_type: str, aggregate_id, actor,
          **payload) -> StoredEvent:
    return StoredEvent(position, uuid4(), aggregate_type, aggregate_id, 1, event_type, 1,
                       payload, datetime(2026, 12, 3, tzinfo=UTC), actor, uuid4(), None)


def test_withdrawn_as_of_the_events_position() -> None:
    user = uuid4()
    consents = Consents({user: ([10, 20, 30], [False, True, False])})  # given, withdrawn, given
    assert [consents.withdrawn(user, p) for p in (5, 10, 19, 20, 29, 30, 99)] == [
        False, False, False, True, True, False, False]
    assert not consents.withdrawn(uuid4(), 25) and not consents.withdrawn(None, 25)


def test_a_withheld_learners_event_keeps_the_minimum() -> None:
    student, course, enrollment = uuid4(), uuid4(), uuid4()
    consents = Consents({student: ([5], [True])})
    created = event(7, "enrollment.created", "enrollment", enrollment, str(student),
                    course_id=str(course), student_id=str(student))
    reduced = consents.reduce(created)
    assert reduced.actor is None
    assert reduced.payload == {"course_id": str(course), "student_id": str(pseudonym(enrollment))}
    assert (reduced.aggregate_id, reduced.position, reduced.event_type) == (
        enrollment, 7, "enrollment.created")
    assert users_named(reduced) == {pseudonym(enrollment)}  # links to nobody real
    withdrawal = event(5, "user.consent_withdrawn", "user", student, str(student),
                       purpose="analytics")
    own = consents.reduce(withdrawal)
    assert own.aggregate_id == pseudonym(withdrawal.event_id) and own.actor is None


def test_others_and_earlier_events_are_unchanged() -> None:
    student, other = uuid4(), uuid4()
    consents = Consents({student: ([5], [True])})
    earlier = event(4, "enrollment.progressed", "enrollment", uuid4(), str(student),
                    lesson_id=str(uuid4()))
    someone_else = event(9, "enrollment.progressed", "enrollment", uuid4(), str(other))
    by_the_system = event(9, "enrollment.activated", "enrollment", uuid4(), "system")
    for unchanged in (earlier, someone_else, by_the_system):
        assert consents.reduce(unchanged) is unchanged


def test_rows_are_reduced_in_prepare_the_same_way_every_time() -> None:
    student = uuid4()
    consents = Consents({student: ([1], [True])})
    events = [event(2, "enrollment.created", "enrollment", uuid4(), str(student),
                    course_id=str(uuid4()), student_id=str(student))]
    once, again = prepare(events, {}, consents), prepare(events, {}, consents)
    assert once.rows == again.rows
    row = once.rows[0]
    assert row[7] is None and row[13] != student.int  # actor, student_id columns
