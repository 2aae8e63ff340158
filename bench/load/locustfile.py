"""Locust journeys of the three personas against the command and query APIs.

    PYTHONPATH=. locust -f bench/load/locustfile.py --host http://127.0.0.1:8000 \\
        --query-host http://127.0.0.1:8001 --headless -u 50 -r 10 -t 2m

Instructors author and publish courses and watch their rosters; students find a published
course, enroll, wait for the enrollment workflow to activate them, complete its lessons and
read their own enrollments (with read-your-writes); admins watch the projections and the
catalog. A refusal the domain documents (a full course: 409 enrollment.seat_cap_reached)
counts as a success; anything else that is not 2xx is a failure.
"""

from __future__ import annotations

import random
import threading
import time
from uuid import uuid4

from locust import HttpUser, between, events, task

from tests.support.command_client import CommandClient

PUBLISHED: list[tuple[str, list[str]]] = []  # courses the instructors published
LOCK = threading.Lock()
READ_ATTEMPTS = 5
EXPECTED_REFUSALS = {"enrollment.seat_cap_reached", "enrollment.course_not_open"}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:  # noqa: ANN001 - locust's parser
    parser.add_argument("--query-host", default="http://127.0.0.1:8001",
                        help="The query API's base URL.")


class Persona(HttpUser):
    abstract = True
    role = "student"
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        self.me = CommandClient(self.host, role=self.role)
        self.headers = self.me.headers
        self.query_host = self.environment.parsed_options.query_host

    def command(self, path: str, json: object = None, name: str | None = None) -> dict:
        with self.client.post(path, json=json, headers=self.headers, name=name,
                              catch_response=True) as reply:
            body = reply.json() if reply.content else {}
            code = (body.get("error") or {}).get("code")
            if reply.status_code < 300 or code in EXPECTED_REFUSALS:
                reply.success()
            else:
                reply.failure(f"{reply.status_code} {code}")
            return body if reply.status_code < 300 else {}

    def read(self, path: str, name: str, token: object = None) -> None:
        """A read with the last write's token. A 503 (read models behind the token after the
        server's wait) is retried as its Retry-After says, as a client would, a few times."""
        headers = {**self.headers, **({"X-Consistency-Token": str(token)} if token else {})}
        for attempt in range(READ_ATTEMPTS):
            with self.client.get(f"{self.query_host}{path}", headers=headers, name=name,
                                 catch_response=True) as reply:
                if reply.status_code == 200:
                    reply.success()
                    return
                if reply.status_code == 503 and attempt + 1 < READ_ATTEMPTS:
                    reply.success()  # an honest "not yet": retried below
                    pause = float(reply.headers.get("Retry-After", "1"))
                else:
                    reply.failure(f"{reply.status_code} {reply.text[:100]}")
                    return
            time.sleep(pause)


class Instructor(Persona):
    role = "instructor"
    weight = 1

    @task
    def author_and_publish(self) -> None:
        course = self.command("/courses", {"title": f"Course {uuid4().hex[:6]}",
                                           "capacity": 30}, name="create course")
        if not course:
            return
        course_id = course["course_id"]
        module = self.command(f"/courses/{course_id}/modules", {"title": "Basics"},
                              name="add module")
        lessons = []
        for n in range(3):
            lesson = self.command(f"/courses/{course_id}/modules/{module.get('module_id')}"
                                  "/lessons", {"title": f"Lesson {n}",
                                               "content": "Events are facts. " * 20},
                                  name="add lesson")
            if lesson:
                lessons.append(lesson["lesson_id"])
        published = self.command(f"/courses/{course_id}/publish", name="publish")
        if published:
            with LOCK:
                PUBLISHED.append((course_id, lessons))
            self.read(f"/courses/{course_id}/roster", "roster", published["position"])


class Student(Persona):
    weight = 6

    @task
    def learn(self) -> None:
        with LOCK:
            if not PUBLISHED:
                return
            course_id, lessons = random.choice(PUBLISHED)
        enrolled = self.command(f"/courses/{course_id}/enroll", name="enroll")
        if not enrolled:
            return
        enrollment = enrolled["enrollment_id"]
        if not self.active(enrollment, enrolled["position"]):
            return
        last = None
        for lesson in lessons:
            done = self.command(f"/enrollments/{enrollment}/lessons/{lesson}/complete",
                                name="complete lesson")
            last = done.get("position", last)
        self.read(f"/enrollments/{enrollment}", "my enrollment", last)


    def active(self, enrollment: str, token: object) -> bool:
        """Waits (bounded) until the workflow has activated the enrollment, as a student's
        page would poll; a course still full or closed ends the journey."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self.client.get(f"{self.query_host}/enrollments/{enrollment}",
                                 headers={**self.headers, "X-Consistency-Token": str(token)},
                                 name="wait for activation", catch_response=True) as reply:
                state = reply.json().get("state") if reply.status_code == 200 else None
                if reply.status_code in (200, 404, 503):  # 404/503: not projected yet
                    reply.success()
                else:
                    reply.failure(f"{reply.status_code} {reply.text[:100]}")
            if state == "ACTIVE":
                return True
            if state in ("CANCELLED", "REJECTED"):
                return False
            time.sleep(0.5)
        return False


class Admin(Persona):
    role = "admin"
    weight = 1

    @task
    def watch(self) -> None:
        self.read("/projections", "projections")
        self.read("/courses?limit=20", "catalog")
