"""Enrollment: a student's enrollment in a course; its id is derived from both (and from the
attempt, for a re-enrollment after a cancellation), so a repeated enroll finds the same
aggregate. PENDING -> ACTIVE -> COMPLETED | CANCELLED. The enrollment workflow initialises
its progress (every lesson NOT_STARTED) and activates it; students never activate their own.
Progress (lessons completed, quiz scores) is recorded on it; it completes when every lesson
is done (and, where the course requires it, its quizzes pass: `completion_rule`). Reminders
are durable timers kept in its own history: scheduled, fired once, cancelled by its end."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict, NotFound, RuleViolated
from commands.domain.quiz import Grade

PENDING, ACTIVE, COMPLETED, CANCELLED = "PENDING", "ACTIVE", "COMPLETED", "CANCELLED"
# Reminder kinds: nudged after inactivity; "course starting soon" before the course's start.
INACTIVE_REMINDER, COURSE_START = "inactive", "course_start"


class Enrollment(AggregateRoot):
    type_name = "enrollment"

    @event("Created")
    def __init__(self, id: UUID, course_id: UUID, student_id: UUID,  # noqa: A002
                 attempt: int = 0) -> None:
        self.course_id = course_id
        self.student_id = student_id
        self.attempt = attempt or 0
        self.state = PENDING
        self.completed_lessons: frozenset[UUID] = frozenset()
        self.quiz_scores: dict[UUID, float] = {}  # the score that counts, as a fraction
        self.quiz_attempts: dict[UUID, int] = {}
        self.passed_quizzes: frozenset[UUID] = frozenset()  # a pass is kept
        self.progress_initialised = False
        self.reminders: dict[str, tuple[UUID, str]] = {}  # kind -> (reminder id, due at)
        self.fired: frozenset[UUID] = frozenset()

    @property
    def open(self) -> bool:
        return self.state in (PENDING, ACTIVE)

    def initialise_progress(self, lesson_ids: Iterable[UUID]) -> None:
        """The workflow's first step: every lesson of the course NOT_STARTED."""
        if self.progress_initialised or not self.open:
            return  # a redelivered step, or an enrollment cancelled meanwhile
        lessons = [str(lesson) for lesson in lesson_ids]
        self._initialise_progress(lesson_ids=lessons, total_lessons=len(lessons))

    @event("ProgressInitialised")
    def _initialise_progress(self, lesson_ids: list[str], total_lessons: int) -> None:
        self.progress_initialised = True

    def schedule_reminder(self, reminder_id: UUID, kind: str, due_at: str) -> None:
        """A durable timer: the latest schedule of a kind replaces the earlier one."""
        if not self.open or reminder_id in self.fired:
            return
        if self.reminders.get(kind, (None, ""))[0] == reminder_id:
            return
        self._schedule_reminder(reminder_id=reminder_id, kind=kind, due_at=due_at)

    @event("ReminderScheduled")
    def _schedule_reminder(self, reminder_id: UUID, kind: str, due_at: str) -> None:
        self.reminders = {**self.reminders, kind: (reminder_id, due_at)}

    def fire_reminder(self, reminder_id: UUID, fired_at: str) -> bool:
        """Fires once, and only while it is the current schedule of an open enrollment."""
        current = {rid for rid, _ in self.reminders.values()}
        if reminder_id in self.fired or reminder_id not in current or self.state != ACTIVE:
            return False
        kind = next(k for k, (rid, _) in self.reminders.items() if rid == reminder_id)
        self._fire_reminder(reminder_id=reminder_id, kind=kind, fired_at=fired_at)
        return True

    @event("ReminderFired")
    def _fire_reminder(self, reminder_id: UUID, kind: str, fired_at: str) -> None:
        self.fired = self.fired | {reminder_id}
        self.reminders = {k: v for k, v in self.reminders.items() if v[0] != reminder_id}

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

    def complete_lesson(self, lesson_id: UUID, course_lessons: Iterable[UUID],
                        requirements_met: bool = True) -> None:
        """Record a finished lesson; completes the enrollment when no lesson is left and the
        course's other requirements (`requirements_met`: quizzes, where a course requires
        them, judged by the handler) hold. A lesson already recorded changes nothing, also
        once the enrollment completed: a client retrying after a timeout gets success."""
        if self.state == COMPLETED and lesson_id in self.completed_lessons:
            return
        self._require(ACTIVE, action="record progress on")
        lessons = frozenset(course_lessons)
        if lesson_id not in lessons:
            raise NotFound("no such lesson in the course", "course.lesson_not_found")
        if lesson_id in self.completed_lessons:
            if lessons <= self.completed_lessons and requirements_met:
                self._complete()  # the last missing lesson was removed from the course
            return
        done = self.completed_lessons | {lesson_id}
        self._progress(lesson_id=lesson_id, completed_count=len(done & lessons),
                       total_lessons=len(lessons))
        if lessons <= done and requirements_met:
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

    def quizzes_passed(self, required_quizzes: Iterable[UUID]) -> bool:
        return frozenset(required_quizzes) <= self.passed_quizzes

    def attempt_quiz(self, quiz_id: UUID, answers: list[dict[str, object]], graded: Grade,
                     max_attempts: int, score_policy: str, course_lessons: Iterable[UUID],
                     required_quizzes: Iterable[UUID]) -> None:
        """Record an attempt the server graded; the score that counts follows the course's
        policy (best or last), and a pass may be what completes the enrollment."""
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
        if kept is None or (fraction > kept if score_policy == "best" else fraction != kept):
            self._score_quiz(quiz_id=quiz_id, score=graded.score, max_score=graded.max_score)
        if (self.state == ACTIVE and frozenset(course_lessons) <= self.completed_lessons
                and self.quizzes_passed(required_quizzes)):
            self._complete()

    @event("QuizAttempted")
    def _attempt_quiz(self, quiz_id: UUID, attempt: int, answers: list[dict[str, object]],
                      score: float, max_score: float, passed: bool) -> None:
        self.quiz_attempts = {**self.quiz_attempts, quiz_id: attempt}
        if passed:
            self.passed_quizzes = self.passed_quizzes | {quiz_id}

    @event("QuizScored")
    def _score_quiz(self, quiz_id: UUID, score: float, max_score: float) -> None:
        self.quiz_scores = {**self.quiz_scores, quiz_id: score / max_score}

    @event("Completed")
    def _complete(self) -> None:
        self.state = COMPLETED
        self.reminders = {}  # timers end with the enrollment

    def cancel(self, reason: str) -> None:
        if self.state == CANCELLED:
            return
        self._require(PENDING, ACTIVE, action="cancel")
        self._cancel(reason=reason)

    @event("Cancelled")
    def _cancel(self, reason: str) -> None:
        self.state = CANCELLED
        self.reminders = {}
