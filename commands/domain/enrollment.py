"""Enrollment: one per (course, student); its id is derived from both, so a repeated enroll
finds the same aggregate. PENDING -> ACTIVE -> COMPLETED | CANCELLED. Progress (lessons
completed, quiz scores) is recorded on it; it completes when every lesson is done."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict, NotFound, RuleViolated

PENDING, ACTIVE, COMPLETED, CANCELLED = "PENDING", "ACTIVE", "COMPLETED", "CANCELLED"


class Enrollment(AggregateRoot):
    type_name = "enrollment"

    @event("Created")
    def __init__(self, id: UUID, course_id: UUID, student_id: UUID) -> None:  # noqa: A002
        self.course_id = course_id
        self.student_id = student_id
        self.state = PENDING
        self.completed_lessons: frozenset[UUID] = frozenset()
        self.quiz_scores: dict[UUID, float] = {}

    def _require(self, *states: str, action: str) -> None:
        if self.state not in states:
            raise Conflict(f"cannot {action} a {self.state} enrollment",
                           "enrollment.invalid_transition", state=self.state)

    def activate(self) -> None:
        if self.state in (ACTIVE, COMPLETED):
            return  # a retried activation that already took effect (and maybe more since)
        self._require(PENDING, action="activate")
        self._activate()

    @event("Activated")
    def _activate(self) -> None:
        self.state = ACTIVE

    def complete_lesson(self, lesson_id: UUID, course_lessons: Iterable[UUID]) -> None:
        """Record a finished lesson; completes the enrollment when no lesson is left.
        A lesson already recorded changes nothing, also once the enrollment completed: a
        client retrying after a timeout gets success, not a conflict."""
        if self.state == COMPLETED and lesson_id in self.completed_lessons:
            return
        self._require(ACTIVE, action="record progress on")
        lessons = frozenset(course_lessons)
        if lesson_id not in lessons:
            raise NotFound("no such lesson in the course", "course.lesson_not_found")
        if lesson_id in self.completed_lessons:
            if lessons <= self.completed_lessons:
                self._complete()  # the last missing lesson was removed from the course
            return
        done = self.completed_lessons | {lesson_id}
        self._progress(lesson_id=lesson_id, completed_count=len(done & lessons),
                       total_lessons=len(lessons))
        if lessons <= done:
            self._complete()

    @event("Progressed")
    def _progress(self, lesson_id: UUID, completed_count: int, total_lessons: int) -> None:
        self.completed_lessons = self.completed_lessons | {lesson_id}

    def score_quiz(self, quiz_id: UUID, score: float, max_score: float) -> None:
        self._require(ACTIVE, COMPLETED, action="score a quiz on")
        if not 0 <= score <= max_score or max_score <= 0:
            raise RuleViolated("the score must lie between 0 and a positive maximum",
                               "enrollment.invalid_score")
        if self.quiz_scores.get(quiz_id) == score / max_score:
            return  # the same result again (a retry): no second event
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
