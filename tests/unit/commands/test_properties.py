"""Property-based: any sequence of commands, through the command bus and the unit of work, on
two "processes" (buses with caches of their own) sharing one store, agrees with a simple
model and keeps the invariants: no seat cap exceeded, prerequisites met by every enrollment,
progress never going back, every stream's versions dense and the global order gap-free.

Hypothesis drives a `RuleBasedStateMachine`; each rule runs a command, predicts its outcome
from the model (success, a no-op or the error code) and checks it; the invariants replay the
store from scratch after every step, so the cached state and the stored state must agree.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from commands import messages as m
from commands.adapters.event_codec import decode_event
from commands.bus import CommandBus
from commands.domain.course import Course
from commands.domain.enrollment import Enrollment
from commands.domain.errors import SmartCourseError
from commands.domain.ids import enrollment_id
from tests.unit.commands.fake_event_store import FakeEventStore

PENDING, ACTIVE, COMPLETED, CANCELLED = "PENDING", "ACTIVE", "COMPLETED", "CANCELLED"
ORDER = {PENDING: 0, ACTIVE: 1, COMPLETED: 2, CANCELLED: 2}


@dataclass
class ModelCourse:
    capacity: int
    prerequisites: tuple[UUID, ...]
    lessons: list[UUID] = field(default_factory=list)
    published: bool = False
    changed: bool = True


@dataclass
class ModelEnrollment:
    course: UUID
    student: UUID
    state: str = PENDING
    done: set[UUID] = field(default_factory=set)
    attempt: int = 0  # the student's latest enrollment in the course (re-enrolled after a cancel)

    @property
    def id(self) -> UUID:
        return enrollment_id(self.course, self.student, self.attempt)


class Platform(RuleBasedStateMachine):
    courses = Bundle("courses")
    students = Bundle("students")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = FakeEventStore()
        self.buses = [CommandBus(self.store), CommandBus(self.store)]  # two processes
        self.instructor = m.Actor(uuid4(), "instructor")
        self.model: dict[UUID, ModelCourse] = {}
        self.enrollments: dict[UUID, ModelEnrollment] = {}
        self.seen_progress: dict[UUID, tuple[int, int]] = {}  # id -> (state order, done)

    def teardown(self) -> None:
        self.loop.close()

    # -- running commands --------------------------------------------------------------------
    def run(self, command: object, actor: m.Actor, bus: int = 0) -> tuple[bool, str | None]:
        """(changed, error code): the command's outcome."""
        try:
            result = self.loop.run_until_complete(self.buses[bus].execute(command, actor))
        except SmartCourseError as error:
            return False, error.code
        return result.changed, None

    def expect(self, outcome: tuple[bool, str | None], changed: bool,
               code: str | None = None) -> None:
        assert outcome == (changed, code), f"got {outcome}, the model expects {(changed, code)}"

    def taken(self, course: UUID) -> int:
        return sum(1 for e in self.enrollments.values()
                   if e.course == course and e.state != CANCELLED)

    # -- authoring -----------------------------------------------------------------------------
    @initialize(target=students)
    def first_student(self) -> UUID:
        return uuid4()

    @rule(target=students)
    def new_student(self) -> UUID:
        return uuid4()

    @rule(target=courses, capacity=st.integers(1, 3), needs=st.lists(courses, max_size=1,
                                                                        unique=True))
    def create_course(self, capacity: int, needs: list[UUID]) -> UUID:
        course = uuid4()
        self.expect(self.run(m.CreateCourse(course, "C", capacity=capacity, prerequisites=needs),
                             self.instructor), True)
        self.model[course] = ModelCourse(capacity, tuple(needs))
        module = uuid4()
        self.expect(self.run(m.AddModule(course, module, "M"), self.instructor), True)
        self.model[course].lessons = []
        self._modules = {**getattr(self, "_modules", {}), course: module}
        return course

    @rule(course=courses, bus=st.integers(0, 1))
    def add_lesson(self, course: UUID, bus: int) -> None:
        lesson = uuid4()
        self.expect(self.run(m.AddLesson(course, self._modules[course], lesson, "L", "text"),
                             self.instructor, bus), True)
        self.model[course].lessons.append(lesson)
        self.model[course].changed = True

    @rule(course=courses, bus=st.integers(0, 1))
    def publish(self, course: UUID, bus: int) -> None:
        c = self.model[course]
        outcome = self.run(m.PublishCourse(course, uuid4()), self.instructor, bus)
        if not c.lessons:
            self.expect(outcome, False, "course.no_lessons")
        elif c.published and not c.changed:
            self.expect(outcome, False, "course.already_published")
        else:
            self.expect(outcome, True)
            c.published, c.changed = True, False

    @rule(course=courses, capacity=st.integers(1, 4))
    def change_capacity(self, course: UUID, capacity: int) -> None:
        outcome = self.run(m.ChangeCapacity(course, capacity), self.instructor)
        c = self.model[course]
        if capacity < self.taken(course):
            self.expect(outcome, False, "course.capacity_below_enrollments")
        else:
            self.expect(outcome, capacity != c.capacity)
            c.capacity = capacity

    # -- learning ------------------------------------------------------------------------------
    def predicted_enroll(self, course: UUID, student: UUID) -> tuple[bool, str | None]:
        existing = self.enrollments.get(enrollment_id(course, student))
        c = self.model[course]
        if existing is not None and existing.state != CANCELLED:
            return False, None  # a repeat; after a cancel, a new enrollment
        if not c.published:
            return False, "enrollment.course_not_open"
        for needed in c.prerequisites:
            done = self.enrollments.get(enrollment_id(needed, student))
            if done is None or done.state != COMPLETED:
                return False, "enrollment.prerequisites_missing"
        if self.taken(course) >= c.capacity:
            return False, "enrollment.seat_cap_reached"
        return True, None

    @rule(course=courses, student=students, bus=st.integers(0, 1))
    def enroll(self, course: UUID, student: UUID, bus: int) -> None:
        existing = self.enrollments.get(enrollment_id(course, student))
        if existing is not None and existing.state in (CANCELLED, COMPLETED):
            return  # re-enrollment (a new attempt) is the enrollment workflow's to model
        predicted = self.predicted_enroll(course, student)
        outcome = self.run(m.EnrollStudent(course, student), m.Actor(student, "student"), bus)
        self.expect(outcome, *predicted)
        if predicted[0]:
            before = self.enrollments.get(enrollment_id(course, student))
            attempt = before.attempt + 1 if before is not None else 0
            self.enrollments[enrollment_id(course, student)] = ModelEnrollment(
                course, student, attempt=attempt)

    @rule(course=courses, crowd=st.integers(2, 6))
    def enroll_at_once(self, course: UUID, crowd: int) -> None:
        """New students race for the seats, on both processes at once."""
        c = self.model[course]
        people = [uuid4() for _ in range(crowd)]

        async def race() -> list[object]:
            return await asyncio.gather(*(
                self.buses[n % 2].execute(m.EnrollStudent(course, p), m.Actor(p, "student"))
                for n, p in enumerate(people)), return_exceptions=True)

        outcomes = self.loop.run_until_complete(race())
        won = [p for p, o in zip(people, outcomes, strict=True)
               if not isinstance(o, BaseException)]
        codes = {o.code for o in outcomes if isinstance(o, SmartCourseError)}
        assert not [o for o in outcomes if isinstance(o, BaseException)
                    and not isinstance(o, SmartCourseError)]
        if not c.published or c.prerequisites:
            assert won == [] and len(codes) == 1
            return
        assert len(won) == min(crowd, c.capacity - self.taken(course))
        assert codes <= {"enrollment.seat_cap_reached"}
        for p in won:
            self.enrollments[enrollment_id(course, p)] = ModelEnrollment(course, p)

    def _pick(self, data: st.DataObject) -> ModelEnrollment:
        key = data.draw(st.sampled_from(sorted(self.enrollments)))
        return self.enrollments[key]

    @precondition(lambda self: self.enrollments)
    @rule(data=st.data(), bus=st.integers(0, 1))
    def activate(self, data: st.DataObject, bus: int) -> None:
        e = self._pick(data)
        # Activation is the enrollment workflow's step: the system's, never the student's.
        outcome = self.run(m.ActivateEnrollment(e.id),
                           m.Actor(uuid4(), "system"), bus)
        if e.state == CANCELLED:
            self.expect(outcome, False, "enrollment.invalid_transition")
        else:
            self.expect(outcome, e.state == PENDING)
            e.state = e.state if e.state == COMPLETED else ACTIVE

    @precondition(lambda self: self.enrollments)
    @rule(data=st.data(), bus=st.integers(0, 1), retry=st.booleans())
    def complete_lesson(self, data: st.DataObject, bus: int, retry: bool) -> None:
        e = self._pick(data)
        lessons = self.model[e.course].lessons
        if retry and e.done:
            lesson = data.draw(st.sampled_from(sorted(e.done)))
        else:
            lesson = data.draw(st.sampled_from(lessons)) if lessons else uuid4()
        outcome = self.run(m.CompleteLesson(e.id, lesson),
                           m.Actor(e.student, "student"), bus)
        if e.state == COMPLETED and lesson in e.done:
            self.expect(outcome, False)  # a retry of what already took effect
        elif e.state != ACTIVE:
            self.expect(outcome, False, "enrollment.invalid_transition")
        elif lesson not in lessons:
            self.expect(outcome, False, "course.lesson_not_found")
        elif lesson in e.done and not set(lessons) <= e.done:
            self.expect(outcome, False)
        else:
            self.expect(outcome, True)
            e.done.add(lesson)
            if set(lessons) <= e.done:
                e.state = COMPLETED

    @precondition(lambda self: any(e.state == ACTIVE for e in self.enrollments.values()))
    @rule(data=st.data(), bus=st.integers(0, 1))
    def finish_the_course(self, data: st.DataObject, bus: int) -> None:
        """Every lesson left, then the last one again: a client retrying after a timeout."""
        key = data.draw(st.sampled_from(sorted(k for k, e in self.enrollments.items()
                                               if e.state == ACTIVE)))
        e, actor = self.enrollments[key], m.Actor(self.enrollments[key].student, "student")
        lessons = self.model[e.course].lessons
        for lesson in [x for x in lessons if x not in e.done]:
            self.expect(self.run(m.CompleteLesson(key, lesson), actor, bus), True)
            e.done.add(lesson)
        if not lessons:
            return
        e.state = COMPLETED
        self.expect(self.run(m.CompleteLesson(key, lessons[-1]), actor, 1 - bus), False)

    @precondition(lambda self: self.enrollments)
    @rule(data=st.data(), bus=st.integers(0, 1))
    def cancel(self, data: st.DataObject, bus: int) -> None:
        e = self._pick(data)
        outcome = self.run(m.CancelEnrollment(e.id),
                           m.Actor(e.student, "student"), bus)
        if e.state == COMPLETED:
            self.expect(outcome, False, "enrollment.invalid_transition")
        else:
            self.expect(outcome, e.state != CANCELLED)
            e.state = CANCELLED

    # -- invariants, on the store replayed from scratch --------------------------------------
    def replayed(self) -> dict[UUID, object]:
        aggregates: dict[UUID, object] = {}
        for event in self.store.events:
            domain = decode_event(event.event_type, event.aggregate_id, event.version,
                                  event.occurred_at, event.payload)
            aggregates[event.aggregate_id] = domain.mutate(aggregates.get(event.aggregate_id))
        return aggregates

    @invariant()
    def versions_are_dense_and_the_order_gap_free(self) -> None:
        assert [e.position for e in self.store.events] == list(
            range(1, len(self.store.events) + 1))
        versions: dict[UUID, list[int]] = {}
        for event in self.store.events:
            versions.setdefault(event.aggregate_id, []).append(event.version)
        assert all(v == list(range(1, len(v) + 1)) for v in versions.values())

    @invariant()
    def the_store_agrees_with_the_model(self) -> None:
        aggregates = self.replayed()
        for course_id, c in self.model.items():
            course = aggregates[course_id]
            assert isinstance(course, Course)
            assert course.seats_taken == self.taken(course_id) <= course.capacity == c.capacity
            assert list(course.lesson_ids) == c.lessons
        for eid, e in self.enrollments.items():
            enrollment = aggregates[eid]
            assert isinstance(enrollment, Enrollment)
            assert (enrollment.state, set(enrollment.completed_lessons)) == (e.state, e.done)

    @invariant()
    def every_enrollment_met_its_prerequisites(self) -> None:
        for e in self.enrollments.values():
            for needed in self.model[e.course].prerequisites:
                assert self.enrollments[enrollment_id(needed, e.student)].state == COMPLETED

    @invariant()
    def progress_never_goes_back(self) -> None:
        for eid, e in self.enrollments.items():
            now = (ORDER[e.state], len(e.done))
            before = self.seen_progress.get(eid, (0, 0))
            assert now[0] >= before[0] and (now[1] >= before[1] or e.state == CANCELLED)
            self.seen_progress[eid] = now


Platform.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
TestPlatform = Platform.TestCase
