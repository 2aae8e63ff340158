"""Realistic event histories for projection tests, made by driving the real aggregates
through the command bus (on the in-memory store for unit tests, on PostgreSQL for
integration tests), and Kafka-like deliveries of them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from assistant.domain.draft import Draft, draft_id
from assistant.enhancements import Regenerator, Request, generate
from assistant.messages import AcceptDraft, DiscardDraft, EditDraft
from assistant.providers.chain import ProviderChain
from assistant.providers.extractive import ExtractiveProvider
from commands import messages as m
from commands.adapters.event_store import StoredEvent
from commands.bus import CommandBus
from commands.domain.errors import SmartCourseError
from commands.domain.ids import certificate_id, enrollment_id
from projections.deliveries import EventDelivery, WatermarkDelivery

LOG_TEXT = (
    "A log is an ordered sequence of records that only grows at its end. Every record in "
    "the log gets an offset, a number that tells readers where they are. Consumers read the "
    "log from an offset and remember the offset they reached as a checkpoint. Because the "
    "log is append-only, replaying it from the first offset rebuilds every projection.")
LOG_MORE = "Compaction keeps the newest record per key and drops the older records."


@dataclass
class Course:
    id: UUID
    modules: dict[UUID, list[UUID]] = field(default_factory=dict)  # its lessons, in order
    quizzes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lessons(self) -> list[UUID]:
        """In course order."""
        return [lesson for lessons in self.modules.values() for lesson in lessons]

    def remove(self, lesson: UUID) -> None:
        for lessons in self.modules.values():
            if lesson in lessons:
                lessons.remove(lesson)


@dataclass
class History:
    """The ids a scenario created, for asking the store (or the read models) about them."""

    bus: CommandBus
    rng: random.Random
    instructor: m.Actor = field(default_factory=lambda: m.Actor(uuid4(), "instructor"))
    system: m.Actor = field(default_factory=lambda: m.Actor(uuid4(), "system"))
    courses: list[Course] = field(default_factory=list)
    enrollments: dict[UUID, tuple[UUID, m.Actor]] = field(default_factory=dict)
    refused: int = 0  # commands the domain refused (seat cap, closed course): realistic too
    drafts: set[UUID] = field(default_factory=set)  # study-material drafts (docs/adr/0042)

    @property
    def aggregate_ids(self) -> set[UUID]:
        students = {student.user_id for _, student in self.enrollments.values()}
        certificates = {certificate_id(e) for e in self.enrollments}
        return ({c.id for c in self.courses} | set(self.enrollments) | students | certificates
                | self.drafts)

    async def do(self, command: Any, actor: m.Actor) -> None:
        try:
            await self.bus.execute(command, actor)
        except SmartCourseError:
            self.refused += 1

    async def course(self, modules: int = 2, lessons: int = 2, capacity: int = 50,
                     publish: bool = True) -> Course:
        course = Course(uuid4())
        n = len(self.courses)
        await self.do(m.CreateCourse(course.id, f"Course {n}", f"About {n}", ["es", f"t{n % 3}"],
                                     capacity=capacity), self.instructor)
        for i in range(modules):
            module = uuid4()
            course.modules[module] = []
            await self.do(m.AddModule(course.id, module, f"Module {i}"), self.instructor)
            for j in range(lessons):
                await self.add_lesson(course, module, f"Lesson {i}.{j}")
        if course.modules:
            await self.add_quiz(course, next(iter(course.modules)))
        self.courses.append(course)
        if publish:
            await self.do(m.PublishCourse(course.id, uuid4()), self.instructor)
        return course

    async def add_lesson(self, course: Course, module: UUID, title: str) -> None:
        lesson = uuid4()
        assets = [{"name": "slides.pdf", "url": "https://files.example/slides.pdf",
                   "mime_type": "application/pdf", "size_bytes": 1024}]
        if self.rng.random() < 0.5:
            assets = [{"name": "notes.txt", "url": "https://files.example/notes.txt"}]
        await self.do(m.AddLesson(course.id, module, lesson, title, "text " * 20,
                                  assets if self.rng.random() < 0.3 else []), self.instructor)
        course.modules[module].append(lesson)

    async def add_quiz(self, course: Course, module: UUID) -> None:
        """A two-question quiz on the module; option 1 is right for both."""
        quiz = {"quiz_id": str(uuid4()), "title": "Check", "lesson_id": None,
                "module_id": str(module), "pass_mark": 50.0, "max_attempts": 0, "questions": [
                    {"question_id": f"q{n}", "kind": "multiple_choice", "prompt": f"Q{n}?",
                     "options": ["a", "b"], "correct": [1], "accepted_answers": [],
                     "points": 1.0} for n in range(2)]}
        await self.do(m.AddQuiz(course.id, quiz), self.instructor)
        course.quizzes.append(quiz)

    async def answer(self, eid: UUID, course: Course, right: int) -> None:
        """The student's answers to the course's first quiz, `right` of them correct."""
        quiz = course.quizzes[0]
        answers = [{"question_id": q["question_id"], "choices": [1 if n < right else 0],
                    "text": ""} for n, q in enumerate(quiz["questions"])]
        await self.do(m.SubmitQuizAnswers(eid, UUID(quiz["quiz_id"]), answers),
                      self.enrollments[eid][1])

    async def enroll(self, course: Course) -> UUID:
        student = m.Actor(uuid4(), "student")
        n = len(self.enrollments)
        await self.do(m.RegisterUser(student.user_id, f"Student {n}", f"student{n}@example.org",
                                     "student"), student)
        if self.rng.random() < 0.3:  # some give consent, a few are erased
            await self.do(m.GiveConsent(student.user_id, "analytics"), student)
            if self.rng.random() < 0.3:
                await self.do(m.EraseUser(student.user_id, "asked"), student)
        await self.do(m.EnrollStudent(course.id, student.user_id), student)
        eid = enrollment_id(course.id, student.user_id)
        self.enrollments[eid] = (course.id, student)
        return eid

    async def enhance(self, course: Course) -> None:
        """Study material of a lesson: generated (extractive), edited, accepted into a quiz,
        outdated by a lesson edit and regenerated by the consumer; another one discarded."""
        chain = ProviderChain([ExtractiveProvider()])
        lesson, other = course.lessons[1], course.lessons[2]
        self.drafts |= {draft_id(course.id, lesson), draft_id(course.id, other)}
        for target in (lesson, other):
            await self.do(m.ReviseLesson(course.id, target, "Logs", LOG_TEXT), self.instructor)
            async for _ in generate(self.bus, chain, self.instructor,
                                    Request(course.id, target), uuid4()):
                pass
        draft = await self.bus.peek(Draft, draft_id(course.id, lesson))
        assert draft is not None
        edited = {**draft.content.as_dict(), "summary": "Logs are ordered and append-only."}
        await self.do(EditDraft(draft.id, edited), self.instructor)
        await self.do(AcceptDraft(draft.id, "About logs", 50.0, 0), self.instructor)
        await self.do(DiscardDraft(draft_id(course.id, other), "not needed"), self.instructor)
        await self.do(m.ReviseLesson(course.id, lesson, "Logs", LOG_TEXT + " " + LOG_MORE),
                      self.instructor)
        revised = [e for e in await self.bus.store.load(course.id)
                   if e.event_type == "course.lesson_revised"]
        assert await Regenerator(self.bus, chain).handle(revised[-1]) == "regenerated"

    async def learn(self, eid: UUID, lessons: list[UUID]) -> None:
        student = self.enrollments[eid][1]
        for lesson in lessons:
            await self.do(m.CompleteLesson(eid, lesson), student)


async def scenario(history: History, courses: int = 4, students: int = 30) -> History:
    """Authoring, publishing, enrolments, progress, quizzes, cancellations, and content that
    changes under enrolled students (the cases that couple the two aggregate types)."""
    h, rng = history, history.rng
    for n in range(courses):
        await h.course(capacity=3 if n == 0 else 50)
    await h.course(publish=False)  # a draft nobody can enrol in
    open_courses = h.courses[:courses]
    for _ in range(students):
        for course in rng.sample(open_courses, rng.randint(1, 2)):
            eid = await h.enroll(course)
            student = h.enrollments[eid][1]
            if rng.random() < 0.8:
                await h.do(m.InitialiseProgress(eid), h.system)
                await h.do(m.ActivateEnrollment(eid), h.system)
            await h.learn(eid, rng.sample(course.lessons, rng.randint(0, len(course.lessons))))
            await h.do(m.IssueCertificate(eid), h.system)  # refused unless completed
            if rng.random() < 0.4:
                await h.do(m.ScoreQuiz(eid, uuid4(), rng.randint(0, 10), 10), h.system)
            if len(h.enrollments) % 3 == 0:  # graded attempts (refused unless active)
                await h.answer(eid, course, right=len(h.enrollments) // 3 % 3)
            if rng.random() < 0.1:
                await h.do(m.CancelEnrollment(eid, "changed my mind"), student)
    # Content changes under enrolled students, then the tail of their progress.
    first, second = open_courses[0], open_courses[1]
    await h.add_lesson(second, next(iter(second.modules)), "A late lesson")
    await h.do(m.ReviseLesson(second.id, second.lessons[0], "Renamed lesson", "new text"),
               h.instructor)
    removed = first.lessons[1]
    first.remove(removed)
    await h.do(m.RemoveLesson(first.id, removed), h.instructor)
    await h.do(m.ReviseCourseDetails(first.id, "Renamed course", "New", ["es"]), h.instructor)
    await h.do(m.ChangeCapacity(second.id, 60), h.instructor)
    await h.do(m.PublishCourse(second.id, uuid4()), h.instructor)
    await h.do(m.MarkCourseReady(second.id, 2, uuid4(), 12), h.system)
    for eid, (course_id, _) in list(h.enrollments.items())[:students // 2]:
        course = next(c for c in h.courses if c.id == course_id)
        await h.learn(eid, course.lessons)
    await h.enhance(second)
    await h.do(m.ArchiveCourse(open_courses[-1].id), h.instructor)
    return h


def deliveries(events: list[StoredEvent], rng: random.Random, partitions: int = 3,
               prefix: str = "smartcourse", duplicates: float = 0.1,
               watermark: bool = True) -> list[list[EventDelivery | WatermarkDelivery]]:
    """Batches as Kafka would hand them over: one topic per aggregate type, partitioned by
    aggregate id, each partition in order; partitions interleave at random; some slices are
    delivered again (a consumer restarting before its commit)."""
    queues: dict[tuple[str, int], list[EventDelivery]] = {}
    for event in sorted(events, key=lambda e: e.position):
        key = (f"{prefix}.{event.aggregate_type}", event.aggregate_id.int % partitions)
        queue = queues.setdefault(key, [])
        queue.append(EventDelivery(event, key[0], key[1], len(queue)))
    batches: list[list[EventDelivery | WatermarkDelivery]] = []
    cursors = dict.fromkeys(queues, 0)
    while any(cursors[k] < len(q) for k, q in queues.items()):
        batch: list[EventDelivery | WatermarkDelivery] = []
        for key in rng.sample(list(queues), len(queues)):
            start = cursors[key]
            if start >= len(queues[key]):
                continue
            end = min(len(queues[key]), start + rng.randint(1, 40))
            batch.extend(queues[key][start:end])
            if rng.random() < duplicates:  # redelivered from an earlier offset
                batch.extend(queues[key][max(0, start - rng.randint(1, 10)):end])
            cursors[key] = end
        batches.append(batch)
    if watermark:
        head = max(e.position for e in events)
        batches.append([WatermarkDelivery(t, p, head) for t, p in queues])
    return batches
