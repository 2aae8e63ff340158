"""student_enrollments: the enrollment's own columns, and what the course supplies."""

from __future__ import annotations

from commands import messages as m
from projections.base import Change
from projections.read_models import student_enrollments as student
from tests.unit.projections.given import last, platform, run, where


def test_enrolling_inserts_the_row_with_its_course_columns() -> None:
    store, h = platform()
    course = run(h.course())
    eid = run(h.enroll(course))

    created = last(store, "enrollment.created")
    assert student.fold(created) == [
        Change(student.ENROLLED, where(created, course_id=course.id,
                                       student_id=h.enrollments[eid][1].user_id))]


def test_progress_appends_the_lesson_and_completion_stamps_the_time() -> None:
    store, h = platform()
    course = run(h.course(modules=1, lessons=1))
    eid = run(h.enroll(course))
    run(h.do(m.ActivateEnrollment(eid), h.system))
    run(h.learn(eid, course.lessons))

    progressed, completed = last(store, "enrollment.progressed"), last(
        store, "enrollment.completed")
    assert student.fold(progressed) == [Change(student.PROGRESSED,
                                               where(progressed, lesson_id=course.lessons[0]))]
    assert student.fold(completed) == [Change(student.COMPLETED, where(completed))]


def test_course_content_changes_reach_the_enrolled_but_not_their_own_times() -> None:
    store, h = platform()
    course = run(h.course(modules=1, lessons=2))
    module, (first, second) = next(iter(course.modules)), course.lessons
    run(h.enroll(course))
    run(h.add_lesson(course, module, "Extra"))
    run(h.do(m.ReviseLesson(course.id, first, "Renamed", "t"), h.instructor))
    run(h.do(m.RemoveLesson(course.id, second), h.instructor))
    run(h.do(m.ReviseCourseDetails(course.id, "New name", "", []), h.instructor))

    added = last(store, "course.lesson_added")
    assert student.fold(added) == [
        Change(student.LESSON_ADDED, {"id": course.id, "lesson_id": course.lessons[-1],
                                      "module_id": module, "title": "Extra", "index": 2}),
        Change(student.RECOMPUTE_COURSE, {"id": course.id})]
    assert student.fold(last(store, "course.lesson_revised")) == [Change(
        student.LESSON_RENAMED, {"id": course.id, "lesson_id": first, "title": "Renamed"})]
    assert student.fold(last(store, "course.lesson_removed")) == [
        Change(student.LESSON_REMOVED, {"id": course.id, "lesson_id": second}),
        Change(student.RECOMPUTE_COURSE, {"id": course.id})]
    assert student.fold(last(store, "course.details_revised")) == [Change(
        student.COURSE_RENAMED, {"id": course.id, "title": "New name"})]
