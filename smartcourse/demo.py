"""`smartcourse demo`: seeds a realistic data set through the running APIs and shows it flow.

It talks to the platform the way clients do (HTTP with JWT tokens), then follows the events:
event store -> relay -> Kafka, and prints where to look next.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
from confluent_kafka import Consumer, TopicPartition

from smartcourse.settings import Settings

COURSES = [
    ("Event Sourcing from First Principles", ["event-sourcing", "architecture"], 25,
     ["Why events", "Aggregates and invariants", "Projections", "Replays and upcasting"]),
    ("Kafka Streams in Practice", ["kafka", "streaming"], 20,
     ["Topics and partitions", "Consumer groups", "Exactly-once effects"]),
    ("CQRS Patterns", ["cqrs", "architecture"], 3,
     ["Commands and queries", "Read models", "Consistency tokens"]),
]
LESSON_TEXT = (
    "This lesson explains {topic}. It walks through a worked example, the trade-offs a team "
    "meets in production, and a short checklist to apply it to your own system."
)


@dataclass
class Tally:
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    last_position: int = 0

    def record(self, reply: httpx.Response) -> dict[str, Any]:
        body = reply.json()
        if reply.status_code < 300:
            self.accepted += 1
            self.last_position = max(self.last_position, body.get("position", 0))
        else:
            code = body["error"]["code"]
            self.refused[code] = self.refused.get(code, 0) + 1
        return body


class Client:
    def __init__(self, http: httpx.Client, tally: Tally, role: str) -> None:
        self.http, self.tally, self.user_id = http, tally, uuid4()
        token = http.post("/auth/token", json={"user_id": str(self.user_id), "role": role})
        token.raise_for_status()
        self.auth = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def post(self, path: str, body: Any = None) -> dict[str, Any]:
        return self.tally.record(self.http.post(path, json=body, headers=self.auth))


def seed(settings: Settings, students: int = 40) -> tuple[Tally, list[UUID]]:
    tally = Tally()
    random.seed(2026)
    with httpx.Client(base_url=f"http://{settings.host}:{settings.command_api_port}",
                      timeout=30) as http:
        instructor = Client(http, tally, "instructor")
        admin = Client(http, tally, "admin")
        instructor.post("/users", {"user_id": str(instructor.user_id), "display_name": "Ada",
                                   "email": "ada@example.org", "role": "student"})
        courses: list[tuple[str, list[str]]] = []
        quizzes: dict[str, tuple[str, list[str]]] = {}  # course -> quiz id, question ids
        for title, tags, capacity, lessons in COURSES:
            prerequisites = [courses[0][0]] if title == "CQRS Patterns" else []
            course_id = instructor.post("/courses", {
                "title": title, "tags": tags, "capacity": capacity,
                "description": f"A course on {title.lower()}.",
                "prerequisites": prerequisites})["course_id"]
            module_id = instructor.post(f"/courses/{course_id}/modules",
                                        {"title": "Core ideas"})["module_id"]
            lesson_ids = [
                instructor.post(f"/courses/{course_id}/modules/{module_id}/lessons", {
                    "title": lesson, "content": LESSON_TEXT.format(topic=lesson.lower())})[
                    "lesson_id"]
                for lesson in lessons
            ]
            questions = [{"question_id": str(uuid4()), "kind": "multiple_choice",
                          "prompt": f"Which of these is true of {lesson.lower()}?",
                          "options": ["the first", "the second", "the third"],
                          "correct": [n % 3]} for n, lesson in enumerate(lessons)]
            quiz = instructor.post(f"/courses/{course_id}/quizzes", {
                "title": f"{title}: check", "module_id": module_id, "pass_mark": 50,
                "questions": questions})
            quizzes[course_id] = (quiz["quiz_id"], [q["question_id"] for q in questions])
            instructor.post(f"/courses/{course_id}/publish")
            courses.append((course_id, lesson_ids))

        for _ in range(students):
            student = Client(http, tally, "student")
            course_id, lesson_ids = random.choice(courses[:2])
            enrollment = student.post(f"/courses/{course_id}/enroll")
            if "enrollment_id" not in enrollment:
                continue  # the course is full: refused with enrollment.seat_cap_reached
            student.post(f"/courses/{course_id}/enroll")  # a repeat: the same enrollment
            enrollment_id = enrollment["enrollment_id"]
            # The enrollment workflow (workflow-worker) activates it by itself; the admin's
            # activation only spares the demo waiting for it (a no-op if already active).
            admin.post(f"/enrollments/{enrollment_id}/activate")
            for lesson_id in lesson_ids[: random.randint(0, len(lesson_ids))]:
                student.post(f"/enrollments/{enrollment_id}/lessons/{lesson_id}/complete")
            quiz_id, question_ids = quizzes[course_id]
            student.post(f"/enrollments/{enrollment_id}/quizzes/{quiz_id}/attempts", {
                "answers": [{"question_id": q, "choices": [random.randint(0, 2)]}
                            for q in question_ids]})  # graded by the server
            student.post(f"/courses/{courses[2][0]}/enroll")  # prerequisite or seat cap
    return tally, [UUID(c) for c, _ in courses]


def wait_for_relay(settings: Settings, position: int, timeout: float = 30) -> int:
    """The relay's checkpoint, once it has reached `position` (or the deadline passed)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(settings.pg_dsn) as conn:
        while True:
            row = conn.execute("SELECT position FROM event_store.checkpoints"
                               " WHERE name = 'kafka-relay'").fetchone()
            reached = row[0] if row else 0
            if reached >= position or time.monotonic() > deadline:
                return reached
            time.sleep(0.2)


def topic_sizes(settings: Settings) -> dict[str, int]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": "smartcourse-demo-inspector"})
    try:
        sizes = {}
        for topic in ("smartcourse.user", "smartcourse.course", "smartcourse.enrollment"):
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            total = 0
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                           timeout=10)
                total += high - low
            sizes[topic] = total
        return sizes
    finally:
        consumer.close()


def read_models_view(settings: Settings, courses: list[UUID]) -> str:
    """What the query API shows once the worker has caught up (bounded wait)."""
    from commands.api.auth import issue_token
    from smartcourse.local_servers import wait_until_caught_up

    try:
        wait_until_caught_up(settings, timeout=120)
    except (RuntimeError, httpx.HTTPError) as error:
        return f"  read models: not caught up yet ({error}); see `smartcourse app logs worker`"
    admin = {"Authorization": f"Bearer {issue_token(settings, uuid4(), 'admin')}"}
    base = f"http://{settings.host}:{settings.query_api_port}"
    lines = []
    for course_id in courses:
        detail = httpx.get(f"{base}/courses/{course_id}", headers=admin, timeout=10).json()
        roster = httpx.get(f"{base}/courses/{course_id}/roster", headers=admin,
                           params={"limit": 100}, timeout=10).json()
        done = sum(1 for e in roster.get("items", []) if e["state"] == "COMPLETED")
        lines.append(f"    {detail.get('title', '?')[:38]:<38} {detail.get('status', '?'):<9} "
                     f"{len(roster.get('items', []))} enrolled, {done} completed, "
                     f"{detail.get('seats_available')} seats left")
    return "  read models (query API):\n" + "\n".join(lines)


def run(settings: Settings) -> str:
    started = time.monotonic()
    tally, courses = seed(settings)
    relayed = wait_for_relay(settings, tally.last_position)
    with psycopg.connect(settings.pg_dsn) as conn:
        stored = conn.execute("SELECT count(*), coalesce(max(position), 0)"
                              " FROM event_store.events").fetchone()
    sizes = topic_sizes(settings)
    view = read_models_view(settings, courses)
    refused = ", ".join(f"{code} ×{n}" for code, n in sorted(tally.refused.items()))
    command_api = f"http://{settings.host}:{settings.command_api_port}"
    return "\n".join([
        f"SmartCourse demo: {tally.accepted} commands accepted, refused as expected: {refused}",
        f"  event store: {stored[0]} events, head position {stored[1]} "
        f"(this demo's last: {tally.last_position})",
        f"  relay checkpoint: {relayed}; Kafka: "
        + ", ".join(f"{t} {n} messages" for t, n in sizes.items()),
        view,
        f"  took {time.monotonic() - started:.1f}s",
        "",
        "Where to look:",
        f"  command API docs   {command_api}/docs",
        f"  query API docs     http://{settings.host}:{settings.query_api_port}/docs "
        "(reads; send a write's position as X-Consistency-Token)",
        "  analytics          .venv/bin/smartcourse sql \"SELECT * FROM "
        "enrollments_per_course_day ORDER BY day DESC LIMIT 10\"",
        "  processes          .venv/bin/smartcourse app status; "
        ".venv/bin/smartcourse stack status",
        f"  the event store    psql {settings.pg_dsn} -c "
        "'SELECT position, event_type, aggregate_id FROM event_store.events"
        " ORDER BY position DESC LIMIT 20'",
        "  logs               .venv/bin/smartcourse app logs relay",
        "  stop everything    .venv/bin/smartcourse app down; .venv/bin/smartcourse stack down",
    ])
