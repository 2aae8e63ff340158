"""A burst of enrollments through the command API, as the enrollment benchmark and the
crash test drive it: registered students (so each gets a welcome email), one course,
concurrent enrolls; each enroll's latency is kept."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import httpx

from bench.accounts import issuer, register
from smartcourse.settings import Settings

CONFLICT_RETRIES = 10


@dataclass
class Burst:
    course_id: str
    emails: dict[str, str] = field(default_factory=dict)  # enrollment id -> address
    latencies: list[float] = field(default_factory=list)  # seconds, per enroll
    started: float = 0.0
    finished: float = 0.0
    conflicts: int = 0  # 409 concurrency_conflict answers retried (one hot course aggregate)
    dropped: int = 0  # requests whose connection failed (retried: enrolling is idempotent)


async def prepare(settings: Settings, students: int, concurrency: int = 32
                  ) -> tuple[str, list[tuple[UUID, str]]]:
    """A published course with room for everyone, and `students` registered students."""
    base = f"http://{settings.host}:{settings.command_api_port}"
    [(_, teacher_token)] = await register(settings, 1, "instructor")
    teacher = {"Authorization": f"Bearer {teacher_token}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        course = (await http.post("/courses", json={"title": "Burst course",
                                                     "capacity": students + 10},
                                  headers=teacher)).json()["course_id"]
        module = (await http.post(f"/courses/{course}/modules", json={"title": "M"},
                                  headers=teacher)).json()["module_id"]
        await http.post(f"/courses/{course}/modules/{module}/lessons",
                        json={"title": "L", "content": "text"}, headers=teacher)
        assert (await http.post(f"/courses/{course}/publish", headers=teacher)).status_code == 202
    emails = [f"{uuid4().hex[:12]}@burst.example" for _ in range(students)]
    registered = await register(settings, students, "student", emails)
    people = [(user, email) for (user, _), email in zip(registered, emails, strict=True)]
    return course, people


async def enroll_all(settings: Settings, course: str, people: list[tuple[UUID, str]],
                     concurrency: int = 64) -> Burst:
    base = f"http://{settings.host}:{settings.command_api_port}"
    burst = Burst(course)
    slots = asyncio.Semaphore(concurrency)
    sign = issuer(settings)
    tokens = {u: {"Authorization": f"Bearer {sign.issue(u, 'student', None)}"}
              for u, _ in people}
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as http:
        async def enroll(user: UUID, email: str) -> None:
            async with slots:
                began = time.perf_counter()
                for attempt in range(CONFLICT_RETRIES + 1):
                    try:
                        reply = await http.post(f"/courses/{course}/enroll",
                                                headers=tokens[user])
                    except httpx.TransportError:
                        # A client retries a request that got no answer; a second enroll of
                        # an open enrollment answers as the first did.
                        burst.dropped += 1
                        if attempt == CONFLICT_RETRIES:
                            raise
                        await asyncio.sleep(random.uniform(0.1, 0.5))
                        continue
                    if reply.status_code != 409 or attempt == CONFLICT_RETRIES or \
                            reply.json()["error"]["code"] != "concurrency_conflict":
                        break
                    # The documented answer to "the aggregate changed meanwhile": retry.
                    burst.conflicts += 1
                    await asyncio.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                burst.latencies.append(time.perf_counter() - began)
                # 200: a retry after a dropped connection found the enrollment already made
                assert reply.status_code in (200, 202), reply.text
                burst.emails[reply.json()["enrollment_id"]] = email

        burst.started = time.perf_counter()
        await asyncio.gather(*(enroll(u, e) for u, e in people))
        burst.finished = time.perf_counter()
    return burst
