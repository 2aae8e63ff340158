"""A realistic load on the command API: instructors author and publish courses, students
enroll (more than there are seats) and, once the enrollment workflow has activated them,
complete lessons. Every answer is kept with
the correlation id sent, so the invariants can find each command's events in the store."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import httpx

from tests.support.command_client import CommandClient

ACTIVATION_WAITS = 240  # half-second tries while the workflow has not activated yet


def _code(answer: Answer) -> str | None:
    error = answer.body.get("error")
    return error.get("code") if isinstance(error, dict) else None


@dataclass(frozen=True)
class Answer:
    kind: str  # enroll | complete | publish | lesson
    status: int | None  # None: no answer (connection refused or reset, timeout)
    correlation_id: UUID
    subject: str  # the enrollment or course the command was about
    body: dict[str, object] = field(default_factory=dict, compare=False)
    retry_after: str | None = None
    at: float = 0.0


@dataclass
class Load:
    base_url: str
    courses: list[tuple[str, list[str], int]] = field(default_factory=list)  # id, lessons, cap
    answers: list[Answer] = field(default_factory=list)
    instructor: CommandClient | None = None
    people: list[CommandClient] = field(default_factory=list)

    def author(self, courses: int, lessons: int, capacity: int, students: int) -> None:
        """Courses to enroll in and the students' tokens, before the faults: the load then
        runs against them."""
        self.people = [CommandClient(self.base_url) for _ in range(students)]
        self.instructor = CommandClient(self.base_url, role="instructor")
        for _ in range(courses):
            course_id, lesson_ids = self.instructor.published_course(capacity=capacity,
                                                                     lessons=lessons)
            self.courses.append((course_id, lesson_ids, capacity))

    async def run(self, concurrency: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        people = self.people
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            await asyncio.gather(*(self._student(http, gate, p, rng.choice(self.courses),
                                                 rng.random()) for p in people))

    async def _student(self, http: httpx.AsyncClient, gate: asyncio.Semaphore,
                       me: CommandClient, course: tuple[str, list[str], int],
                       stagger: float) -> None:
        course_id, lessons, _ = course
        await asyncio.sleep(stagger * 2)
        for _attempt in range(20):  # enrolling is idempotent: retried like the rest
            async with gate:
                enrolled = await self._send(http, me, "enroll", f"/courses/{course_id}/enroll",
                                            course_id)
            if enrolled.status is not None and enrolled.status < 500:
                break
            await asyncio.sleep(float(enrolled.retry_after or 0.5))
        if enrolled.status not in (200, 202):
            return
        enrollment = str(enrolled.body["enrollment_id"])
        for number, lesson in enumerate(lessons):
            path = f"/enrollments/{enrollment}/lessons/{lesson}/complete"
            # A client retries what got no answer, or a 503; before the workflow has
            # activated the enrollment (the first lesson) it also retries the 409.
            waits = ACTIVATION_WAITS if number == 0 else 0
            for _attempt in range(20 + waits):
                async with gate:
                    answer = await self._send(http, me, "complete", path,
                                              f"{enrollment}:{lesson}")
                pending = (answer.status == 409 and waits > 0
                           and _code(answer) == "enrollment.invalid_transition")
                if answer.status is not None and answer.status < 500 and not pending:
                    break
                waits -= pending
                await asyncio.sleep(float(answer.retry_after or 0.5))

    async def _send(self, http: httpx.AsyncClient, me: CommandClient, kind: str, path: str,
                    subject: str) -> Answer:
        correlation = uuid4()
        headers = {**me.headers, "X-Correlation-ID": str(correlation)}
        try:
            reply = await http.post(path, headers=headers)
        except httpx.HTTPError:
            answer = Answer(kind, None, correlation, subject, at=time.monotonic())
        else:
            body = reply.json() if reply.headers.get("content-type", "").startswith(
                "application/json") else {}
            answer = Answer(kind, reply.status_code, correlation, subject, body,
                            reply.headers.get("Retry-After"), time.monotonic())
        self.answers.append(answer)
        return answer
