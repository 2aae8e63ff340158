"""instructor_courses: the course's own columns, and counts moved by its enrollments."""

from __future__ import annotations

from commands import messages as m
from projections.base import Change
from projections.read_models import instructor_courses as instructor
from tests.unit.projections.given import last, platform, run, where


def test_the_course_writes_its_own_columns() -> None:
    store, h = platform()
    course = run(h.course())
    run(h.do(m.ReviseCourseDetails(course.id, "Renamed", "d", []), h.instructor))

    created, revised = last(store, "course.created"), last(store, "course.details_revised")
    assert instructor.fold(created) == [Change(instructor.COURSE_CREATED, where(
        created, instructor_id=h.instructor.user_id, title="Course 0", capacity=50))]
    assert instructor.fold(revised) == [Change(instructor.TITLE, where(revised, title="Renamed"))]
    assert instructor.fold(last(store, "course.published")) == [
        Change(instructor.PUBLISHED, where(last(store, "course.published")))]


def test_an_enrollment_counts_in_when_created_and_moves_between_states() -> None:
    store, h = platform()
    course = run(h.course(modules=1, lessons=1))
    eid = run(h.enroll(course))
    run(h.do(m.ActivateEnrollment(eid), h.system))
    run(h.learn(eid, course.lessons))

    created, activated, completed = (last(store, f"enrollment.{t}")
                                     for t in ("created", "activated", "completed"))
    assert instructor.fold(created) == [Change(instructor.ENROLLED,
                                               where(created, course_id=course.id))]
    assert instructor.fold(activated) == [Change(instructor.MOVED,
                                                 where(activated, state="ACTIVE"))]
    assert instructor.fold(completed) == [Change(instructor.MOVED,
                                                 where(completed, state="COMPLETED"))]
    assert instructor.fold(last(store, "enrollment.progressed")) == []


def test_a_cancellation_moves_the_enrollment_to_cancelled() -> None:
    store, h = platform()
    eid = run(h.enroll(run(h.course())))
    run(h.do(m.CancelEnrollment(eid, "no time"), h.enrollments[eid][1]))

    cancelled = last(store, "enrollment.cancelled")
    assert instructor.fold(cancelled) == [Change(instructor.MOVED,
                                                 where(cancelled, state="CANCELLED"))]
