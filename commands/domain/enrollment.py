"""Enrollment: one per (course, student); its id is derived from both, so a repeated enroll
finds the same aggregate. PENDING -> ACTIVE -> COMPLETED | CANCELLED. Progress (lessons
completed, quiz attempts graded by the server) is recorded on it; it completes when every
lesson is done and, if the course requires it, every quiz of the course is passed."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict, NotFound, RuleViolated
from commands.domain.quiz import Grade

PENDING, ACTIVE, COMPLETED, CANCELLED = "PENDING", "ACTIVE", "COMPLETED", "CANCELLED"


class Enrollment(AggregateRoot):
    type_name = "enrollment"

    @event("Created")
    def __init__(self, id: UUID, course_id: UUID, student_id: UUID) -> None:  # noqa: A002
        self.course_id = course_id
        self.student_id = student_id
        self.state = PENDING
        self.completed_lessons: frozenset[UUID] = frozenset()
        self.quiz_scores: dict[UUID, float] = {}  # the score that counts, as a fraction
        self.quiz_attempts: dict[UUID, int] = {}
        self.passed_quizzes: frozenset[UUID] = frozenset()

    def _require(self, *states: str, action: str) -> None:
        if self.state not in states:
            raise Conflict(f"cannot {action} a {self.state} enrollment",
                           "enrollment.invalid_transition", state=self.state)

    def activate(self) -> None:
        if self.state == ACTIVE:
            return
        self._require(PENDING, action="activate")
        self._activate()

    @event("Activated")
    def _activate(self) -> None:
        self.state = ACTIVE

    def _quizzes_passed(self, required_quizzes: Iterable[UUID]) -> bool:
        return frozenset(required_quizzes) <= self.passed_quizzes

    def complete_lesson(self, lesson_id: UUID, course_lessons: Iterable[UUID],
                        required_quizzes: Iterable[UUID] = ()) -> None:
        """Record a finished lesson; completes the enrollment when no lesson is left and the
        required quizzes are passed."""
        self._require(ACTIVE, action="record progress on")
        lessons = frozenset(course_lessons)
        if lesson_id not in lessons:
            raise NotFound("no such lesson in the course", "course.lesson_not_found")
        if lesson_id in self.completed_lessons:
            if lessons <= self.completed_lessons and self._quizzes_passed(required_quizzes):
                self._complete()  # the last missing lesson was removed from the course
            return
        done = self.completed_lessons | {lesson_id}
        self._progress(lesson_id=lesson_id, completed_count=len(done & lessons),
                       total_lessons=len(lessons))
        if lessons <= done and self._quizzes_passed(required_quizzes):
            self._complete()

    def attempt_quiz(self, quiz_id: UUID, answers: list[dict[str, object]], graded: Grade,
                     max_attempts: int, score_policy: str, course_lessons: Iterable[UUID],
                     required_quizzes: Iterable[UUID]) -> None:
        """Record a graded attempt; the score that counts follows the course's policy (best
        or last), and a pass may be what completes the enrollment."""
        self._require(ACTIVE, COMPLETED, action="attempt a quiz on")
        attempt = self.quiz_attempts.get(quiz_id, 0) + 1
        if max_attempts and attempt > max_attempts:
            raise Conflict(f"all {max_attempts} attempts at this quiz are used",
                           "quiz.attempts_exhausted", attempts=max_attempts)
        self._attempt_quiz(quiz_id=quiz_id, attempt=attempt, answers=answers,
                           score=graded.score, max_score=graded.max_score,
                           passed=graded.passed)
        fraction = graded.score / graded.max_score
        kept = self.quiz_scores.get(quiz_id)
        if score_policy == "last" or kept is None or fraction > kept:
            self._score_quiz(quiz_id=quiz_id, score=graded.score, max_score=graded.max_score)
        if (self.state == ACTIVE and frozenset(course_lessons) <= self.completed_lessons
                and self._quizzes_passed(required_quizzes)):
            self._complete()

    @event("QuizAttempted")
    def _attempt_quiz(self, quiz_id: UUID, attempt: int, answers: list[dict[str, object]],
                      score: float, max_score: float, passed: bool) -> None:
        self.quiz_attempts = {**self.quiz_attempts, quiz_id: attempt}
        if passed:
            self.passed_quizzes = self.passed_quizzes | {quiz_id}

    @event("Progressed")
    def _progress(self, lesson_id: UUID, completed_count: int, total_lessons: int) -> None:
        self.completed_lessons = self.completed_lessons | {lesson_id}

    def score_quiz(self, quiz_id: UUID, score: float, max_score: float) -> None:
        self._require(ACTIVE, COMPLETED, action="score a quiz on")
        if not 0 <= score <= max_score or max_score <= 0:
            raise RuleViolated("the score must lie between 0 and a positive maximum",
                               "enrollment.invalid_score")
        self._score_quiz(quiz_id=quiz_id, score=score, max_score=max_score)

    @event("QuizScored")
    def _score_quiz(self, quiz_id: UUID, score: float, max_score: float) -> None:
        self.quiz_scores = {**self.quiz_scores, quiz_id: score / max_score}

    @event("Completed")
    def _complete(self) -> None:
        self.state = COMPLETED

    def cancel(self, reason: str) -> None:
        if self.state == CANCELLED:
            return
        self._require(PENDING, ACTIVE, action="cancel")
        self._cancel(reason=reason)

    @event("Cancelled")
    def _cancel(self, reason: str) -> None:
        self.state = CANCELLED
