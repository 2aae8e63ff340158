"""course_roster: enrollment events become roster row changes."""

from __future__ import annotations

from uuid import uuid4

from commands import messages as m
from projections.base import Change
from projections.read_models import course_roster as roster
from tests.unit.projections.given import last, platform, run, where


def test_an_enrollment_joins_the_roster_pending() -> None:
    store, h = platform()
    course = run(h.course())
    eid = run(h.enroll(course))

    created = last(store, "enrollment.created")
    assert roster.fold(created) == [Change(roster.CREATED, where(
        created, course_id=course.id, student_id=h.enrollments[eid][1].user_id))]


def test_progress_carries_the_counts_the_enrollment_recorded() -> None:
    store, h = platform()
    course = run(h.course(modules=1, lessons=3))
    eid = run(h.enroll(course))
    run(h.do(m.ActivateEnrollment(eid), h.system))
    run(h.learn(eid, course.lessons[:2]))

    progressed = last(store, "enrollment.progressed")
    assert roster.fold(progressed) == [Change(roster.PROGRESSED, where(
        progressed, completed_count=2, total_lessons=3))]
    assert roster.fold(last(store, "enrollment.activated")) == [Change(
        roster.STATE, where(last(store, "enrollment.activated"), state="ACTIVE"))]


def test_a_quiz_score_is_passed_as_numbers_whatever_json_made_of_them() -> None:
    store, h = platform()
    eid = run(h.enroll(run(h.course())))
    run(h.do(m.ActivateEnrollment(eid), h.system))
    quiz = uuid4()
    run(h.do(m.ScoreQuiz(eid, quiz, 7, 10), h.system))  # ints, as JSON may make them

    scored = last(store, "enrollment.quiz_scored")
    [change] = roster.fold(scored)
    assert change == Change(roster.QUIZ_SCORED, where(scored, quiz_id=quiz, score=7.0,
                                                      max_score=10.0))
    assert all(isinstance(change.params[k], float) for k in ("score", "max_score"))
