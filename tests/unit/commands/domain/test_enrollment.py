"""Enrollment: given its history, a command records events or is refused with a stable code."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.domain.enrollment import ACTIVE, CANCELLED, COMPLETED, PENDING, Enrollment
from commands.domain.errors import Conflict, NotFound, RuleViolated
from commands.domain.ids import enrollment_id
from commands.domain.quiz import Grade

Command = Callable[[Enrollment], object]


# -- given -------------------------------------------------------------------------------------
def recorded(enrollment: Enrollment) -> list[str]:
    """The public types of the events recorded since the last look."""
    return [enrollment.event_type(type(e)) for e in enrollment.collect_events()]


def given(state: str, lessons: list[UUID] | None = None) -> Enrollment:
    """An enrollment brought to `state` through its own commands; its history already stored."""
    course_id, student_id = uuid4(), uuid4()
    enrollment = Enrollment(id=enrollment_id(course_id, student_id), course_id=course_id,
                            student_id=student_id)
    if state in (ACTIVE, COMPLETED):
        enrollment.activate()
    if state == COMPLETED:
        course_lessons = lessons or [uuid4()]
        for lesson in course_lessons:
            enrollment.complete_lesson(lesson, course_lessons)
    if state == CANCELLED:
        enrollment.cancel("changed my mind")
    enrollment.collect_events()
    assert enrollment.state == state
    return enrollment


def progress_of(enrollment: Enrollment) -> list[tuple[str, int, int]]:
    """(type, completed_count, total_lessons) of each progress event recorded since last look."""
    return [
        (enrollment.event_type(type(e)), getattr(e, "completed_count", None),
         getattr(e, "total_lessons", None))
        for e in enrollment.collect_events()
    ]


# -- identity ----------------------------------------------------------------------------------
def test_one_course_and_student_name_one_enrollment() -> None:
    course_id, student_id = uuid4(), uuid4()

    assert enrollment_id(course_id, student_id) == enrollment_id(course_id, student_id)
    assert enrollment_id(course_id, student_id) != enrollment_id(course_id, uuid4())
    assert enrollment_id(course_id, student_id) != enrollment_id(student_id, course_id)


# -- lifecycle ---------------------------------------------------------------------------------
def test_a_new_enrollment_is_pending() -> None:
    course_id, student_id = uuid4(), uuid4()
    enrollment = Enrollment(id=uuid4(), course_id=course_id, student_id=student_id)

    assert recorded(enrollment) == ["enrollment.created"]
    assert (enrollment.course_id, enrollment.student_id) == (course_id, student_id)
    assert (enrollment.state, enrollment.completed_lessons, enrollment.quiz_scores) == (
        PENDING, frozenset(), {})


def test_activate_makes_a_pending_enrollment_active_once() -> None:
    enrollment = given(PENDING)

    enrollment.activate()
    enrollment.activate()

    assert (recorded(enrollment), enrollment.state) == (["enrollment.activated"], ACTIVE)


def test_completing_every_lesson_completes_the_enrollment() -> None:
    lessons = [uuid4(), uuid4(), uuid4()]
    enrollment = given(ACTIVE)

    enrollment.complete_lesson(lessons[1], lessons)
    enrollment.complete_lesson(lessons[0], lessons)
    assert progress_of(enrollment) == [
        ("enrollment.progressed", 1, 3), ("enrollment.progressed", 2, 3)]
    assert enrollment.state == ACTIVE

    enrollment.complete_lesson(lessons[2], lessons)
    assert progress_of(enrollment) == [
        ("enrollment.progressed", 3, 3), ("enrollment.completed", None, None)]
    assert (enrollment.state, enrollment.completed_lessons) == (COMPLETED, frozenset(lessons))


def test_a_lesson_completed_twice_is_recorded_once() -> None:
    lessons = [uuid4(), uuid4()]
    enrollment = given(ACTIVE)
    enrollment.complete_lesson(lessons[0], lessons)
    enrollment.collect_events()

    enrollment.complete_lesson(lessons[0], lessons)

    assert (recorded(enrollment), enrollment.completed_lessons) == ([], frozenset(lessons[:1]))


def test_progress_counts_only_lessons_the_course_still_has() -> None:
    removed, kept, last = uuid4(), uuid4(), uuid4()
    enrollment = given(ACTIVE)
    enrollment.complete_lesson(removed, [removed, kept, last])
    enrollment.collect_events()

    enrollment.complete_lesson(kept, [kept, last])  # `removed` left the course meanwhile
    enrollment.complete_lesson(last, [kept, last])

    assert progress_of(enrollment) == [
        ("enrollment.progressed", 1, 2), ("enrollment.progressed", 2, 2),
        ("enrollment.completed", None, None)]


def test_an_unknown_lesson_is_refused() -> None:
    enrollment = given(ACTIVE)

    with pytest.raises(NotFound) as refused:
        enrollment.complete_lesson(uuid4(), [uuid4()])

    assert refused.value.code == "course.lesson_not_found"
    assert recorded(enrollment) == []


@pytest.mark.parametrize("state", [PENDING, ACTIVE])
def test_a_pending_or_active_enrollment_can_be_cancelled(state: str) -> None:
    enrollment = given(state)

    enrollment.cancel("moved abroad")

    assert (recorded(enrollment), enrollment.state) == (["enrollment.cancelled"], CANCELLED)


def test_cancelling_twice_records_one_event() -> None:
    enrollment = given(CANCELLED)

    enrollment.cancel("again")

    assert recorded(enrollment) == []


INVALID_TRANSITIONS: list[tuple[str, str, Command]] = [
    (CANCELLED, "activate", lambda e: e.activate()),
    (PENDING, "complete lesson", lambda e: e.complete_lesson(uuid4(), [uuid4()])),
    (COMPLETED, "complete lesson", lambda e: e.complete_lesson(uuid4(), [uuid4()])),
    (CANCELLED, "complete lesson", lambda e: e.complete_lesson(uuid4(), [uuid4()])),
    (PENDING, "score quiz", lambda e: e.score_quiz(uuid4(), 1.0, 2.0)),
    (CANCELLED, "score quiz", lambda e: e.score_quiz(uuid4(), 1.0, 2.0)),
    (COMPLETED, "cancel", lambda e: e.cancel("too late")),
]


@pytest.mark.parametrize(
    ("state", "command"), [(state, command) for state, _, command in INVALID_TRANSITIONS],
    ids=[f"{name} when {state}" for state, name, _ in INVALID_TRANSITIONS],
)
def test_an_invalid_transition_is_refused(state: str, command: Command) -> None:
    enrollment = given(state)

    with pytest.raises(Conflict) as refused:
        command(enrollment)

    assert refused.value.code == "enrollment.invalid_transition"
    assert refused.value.details == {"state": state}
    assert (recorded(enrollment), enrollment.state) == ([], state)


# -- retries: a command that already took effect is a no-op, not a conflict --------------------
def test_completing_the_last_lesson_again_after_completion_is_a_no_op() -> None:
    lessons = [uuid4(), uuid4()]
    enrollment = given(COMPLETED, lessons)

    enrollment.complete_lesson(lessons[-1], lessons)  # a client retrying after a timeout
    enrollment.complete_lesson(lessons[0], lessons)

    assert (recorded(enrollment), enrollment.state) == ([], COMPLETED)


def test_activating_again_once_completed_is_a_no_op() -> None:
    enrollment = given(COMPLETED)

    enrollment.activate()

    assert (recorded(enrollment), enrollment.state) == ([], COMPLETED)


def test_the_same_quiz_result_again_records_nothing() -> None:
    enrollment = given(ACTIVE)
    quiz = uuid4()
    enrollment.score_quiz(quiz, 3.0, 4.0)
    recorded(enrollment)

    enrollment.score_quiz(quiz, 3.0, 4.0)

    assert (recorded(enrollment), enrollment.quiz_scores) == ([], {quiz: 0.75})


# -- quizzes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("state", [ACTIVE, COMPLETED])
@pytest.mark.parametrize(("score", "max_score", "ratio"), [(0.0, 10.0, 0.0), (7.5, 10.0, 0.75),
                                                           (10.0, 10.0, 1.0)])
def test_a_quiz_score_is_kept_as_a_fraction_of_its_maximum(
    state: str, score: float, max_score: float, ratio: float,
) -> None:
    enrollment = given(state)
    quiz = uuid4()

    enrollment.score_quiz(quiz, score, max_score)

    assert (recorded(enrollment), enrollment.quiz_scores) == (["enrollment.quiz_scored"],
                                                              {quiz: ratio})


def test_a_retaken_quiz_keeps_the_latest_score() -> None:
    enrollment = given(ACTIVE)
    quiz, other = uuid4(), uuid4()

    enrollment.score_quiz(quiz, 2.0, 4.0)
    enrollment.score_quiz(other, 1.0, 1.0)
    enrollment.score_quiz(quiz, 3.0, 4.0)

    assert recorded(enrollment) == ["enrollment.quiz_scored"] * 3
    assert enrollment.quiz_scores == {quiz: 0.75, other: 1.0}


@pytest.mark.parametrize(
    ("score", "max_score"),
    [(-0.5, 10.0), (10.5, 10.0), (0.0, 0.0), (-1.0, -1.0), (float("nan"), 10.0)],
    ids=["negative", "above maximum", "zero maximum", "negative maximum", "not a number"],
)
def test_a_score_outside_zero_to_a_positive_maximum_is_refused(
    score: float, max_score: float,
) -> None:
    enrollment = given(ACTIVE)

    with pytest.raises(RuleViolated) as refused:
        enrollment.score_quiz(uuid4(), score, max_score)

    assert refused.value.code == "enrollment.invalid_score"
    assert (recorded(enrollment), enrollment.quiz_scores) == ([], {})


# -- forks: a command runs on a copy and leaves the committed state alone -----------------------
def finish_one_of_two_lessons(enrollment: Enrollment) -> None:
    lesson = uuid4()
    enrollment.complete_lesson(lesson, [lesson, uuid4()])


def finish_the_only_lesson(enrollment: Enrollment) -> None:
    lesson = uuid4()
    enrollment.complete_lesson(lesson, [lesson])


def schedule_and_fire(enrollment: Enrollment) -> None:
    reminder = uuid4()
    enrollment.schedule_reminder(reminder, "inactive", "2026-12-10T00:00:00+00:00")
    enrollment.fire_reminder(reminder, "2026-12-10T00:00:01+00:00")


FORKED_COMMANDS: dict[str, tuple[str, Command]] = {
    "initialise progress": (PENDING, lambda e: e.initialise_progress([uuid4(), uuid4()])),
    "activate": (PENDING, lambda e: e.activate()),
    "schedule reminder": (ACTIVE, lambda e: e.schedule_reminder(uuid4(), "inactive", "2026")),
    "fire reminder": (ACTIVE, schedule_and_fire),
    "progress": (ACTIVE, finish_one_of_two_lessons),
    "complete": (ACTIVE, finish_the_only_lesson),
    "score quiz": (ACTIVE, lambda e: e.score_quiz(uuid4(), 1.0, 2.0)),
    "attempt quiz": (ACTIVE, lambda e: e.attempt_quiz(
        uuid4(), [], Grade(score=1.0, max_score=2.0, passed=False, correct=()), 0, "best",
        [uuid4()], [])),
    "cancel": (ACTIVE, lambda e: e.cancel("changed my mind")),
}


@pytest.mark.parametrize(("state", "command"), FORKED_COMMANDS.values(),
                         ids=FORKED_COMMANDS.keys())
def test_a_command_on_a_fork_leaves_the_original_untouched(state: str, command: Command) -> None:
    original = given(state)
    before = copy.deepcopy(vars(original))
    fork = original.fork()

    command(fork)

    assert recorded(fork)  # the fork did change
    assert vars(original) == before
    assert original.collect_events() == []


def test_the_fork_cases_cover_every_enrollment_event() -> None:
    produced = set()
    for state, command in FORKED_COMMANDS.values():
        fork = given(state).fork()
        command(fork)
        produced.update(recorded(fork))

    assert produced == set(Enrollment.event_classes()) - {"enrollment.created"}


# -- quizzes graded by the server -----------------------------------------------------------------
def _graded(score: float, passed: bool) -> Any:
    return Grade(score=score, max_score=4.0, passed=passed, correct=())


def test_attempts_are_limited_and_the_best_score_counts() -> None:
    enrollment = Enrollment(id=uuid4(), course_id=uuid4(), student_id=uuid4())
    enrollment.activate()
    lesson, quiz = uuid4(), uuid4()
    enrollment.collect_events()

    enrollment.attempt_quiz(quiz, [], _graded(3.0, True), 2, "best", [lesson], [])
    enrollment.attempt_quiz(quiz, [], _graded(1.0, False), 2, "best", [lesson], [])
    with pytest.raises(Conflict) as spent:
        enrollment.attempt_quiz(quiz, [], _graded(4.0, True), 2, "best", [lesson], [])

    assert spent.value.code == "quiz.attempts_exhausted"
    assert [type(e).__name__ for e in enrollment.collect_events()] == [
        "QuizAttempted", "QuizScored", "QuizAttempted"]
    assert enrollment.quiz_scores[quiz] == 0.75
    assert enrollment.passed_quizzes == {quiz}


def test_with_the_last_policy_the_latest_attempt_counts() -> None:
    enrollment = Enrollment(id=uuid4(), course_id=uuid4(), student_id=uuid4())
    enrollment.activate()
    quiz = uuid4()
    enrollment.attempt_quiz(quiz, [], _graded(4.0, True), 0, "last", [uuid4()], [])
    enrollment.attempt_quiz(quiz, [], _graded(1.0, False), 0, "last", [uuid4()], [])
    assert enrollment.quiz_scores[quiz] == 0.25


def test_a_required_quiz_gates_completion_and_passing_it_completes() -> None:
    enrollment = Enrollment(id=uuid4(), course_id=uuid4(), student_id=uuid4())
    enrollment.activate()
    lesson, quiz = uuid4(), uuid4()

    enrollment.complete_lesson(lesson, [lesson],
                               requirements_met=enrollment.quizzes_passed([quiz]))
    assert enrollment.state == ACTIVE
    enrollment.attempt_quiz(quiz, [], _graded(1.0, False), 0, "best", [lesson], [quiz])
    assert enrollment.state == ACTIVE
    enrollment.attempt_quiz(quiz, [], _graded(3.0, True), 0, "best", [lesson], [quiz])
    assert enrollment.state == COMPLETED
