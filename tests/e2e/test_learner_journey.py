"""The whole learner journey through the running platform: command API -> event store ->
relay -> Kafka -> worker -> read models -> query API, with consistency tokens (no sleeps).

An instructor creates and publishes a course; students enroll (including a repeat and one
past the seat cap), record progress and complete; the query API shows every step.
"""

from __future__ import annotations

from typing import Any

import httpx

from smartcourse.local_servers import wait_until_caught_up
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient


class Reader:
    """The query API as a client uses it: every read carries the last write's token."""

    def __init__(self, base_url: str, client: CommandClient) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.headers = client.headers

    def get(self, path: str, after: httpx.Response, **params: Any) -> dict[str, Any]:
        token = str(after.json()["position"])
        reply = self.http.get(path, params=params,
                              headers={**self.headers, "X-Consistency-Token": token})
        assert reply.status_code == 200, reply.text
        assert int(reply.headers["X-Read-Position"]) >= int(token)
        return reply.json()


def wait_for_state(reader: Reader, path: str, state: str, timeout: float = 60) -> bool:
    """Bounded poll until the enrollment workflow moved the enrollment to `state`."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = reader.http.get(path, headers=reader.headers)
        if reply.status_code == 200 and reply.json()["state"] == state:
            return True
        time.sleep(0.2)  # polling an asynchronous workflow, bounded by the deadline
    return False


def test_a_course_from_authoring_to_completion(app_processes: Settings) -> None:
    s = app_processes
    wait_until_caught_up(s)
    writes = f"http://{s.host}:{s.command_api_port}"
    reads = f"http://{s.host}:{s.query_api_port}"
    instructor = CommandClient(writes, role="instructor")
    teacher_view = Reader(reads, instructor)

    course_id = instructor.create_course(title="Journey through event sourcing", capacity=2)
    lessons = instructor.add_lessons(course_id, 2)
    published = instructor.post(f"/courses/{course_id}/publish")
    assert published.status_code == 202, published.text

    detail = teacher_view.get(f"/courses/{course_id}", published)
    assert detail["status"] in ("PUBLISHED", "READY")
    assert [lesson["lesson_id"] for m in detail["modules"] for lesson in m["lessons"]] == lessons
    catalog = teacher_view.get("/courses", published, q="Journey through event")
    assert course_id in [c["course_id"] for c in catalog["items"]]

    ada, bob, cy = (CommandClient(writes) for _ in range(3))
    enrolled = ada.post(f"/courses/{course_id}/enroll")
    repeat = ada.post(f"/courses/{course_id}/enroll")
    second = bob.post(f"/courses/{course_id}/enroll")
    refused = cy.post(f"/courses/{course_id}/enroll")
    assert (enrolled.status_code, repeat.status_code, second.status_code) == (202, 200, 202)
    assert repeat.json()["enrollment_id"] == enrolled.json()["enrollment_id"]
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "enrollment.seat_cap_reached"

    enrollment = enrolled.json()["enrollment_id"]
    ada_view = Reader(reads, ada)
    mine = ada_view.get(f"/students/{ada.user_id}/enrollments", enrolled)
    assert [e["enrollment_id"] for e in mine["items"]] == [enrollment]
    assert mine["items"][0]["state"] in ("PENDING", "ACTIVE")  # the workflow activates it
    seats = teacher_view.get(f"/courses/{course_id}", second)
    assert seats["seats_available"] == 0

    assert wait_for_state(ada_view, f"/enrollments/{enrollment}", "ACTIVE")
    halfway = ada.post(f"/enrollments/{enrollment}/lessons/{lessons[0]}/complete")
    progress = ada_view.get(f"/enrollments/{enrollment}", halfway)
    assert (progress["state"], float(progress["progress_percent"])) == ("ACTIVE", 50.0)
    assert progress["next_lesson"]["lesson_id"] == lessons[1]

    done = ada.post(f"/enrollments/{enrollment}/lessons/{lessons[1]}/complete")
    assert done.json()["state"] == "COMPLETED"
    finished = ada_view.get(f"/enrollments/{enrollment}", done)
    assert (finished["state"], float(finished["progress_percent"])) == ("COMPLETED", 100.0)

    roster = teacher_view.get(f"/courses/{course_id}/roster", done)
    states = {e["student_id"]: e["state"] for e in roster["items"]}
    assert states[str(ada.user_id)] == "COMPLETED"
    assert states[str(bob.user_id)] in ("PENDING", "ACTIVE")
    counts = teacher_view.get(f"/instructors/{instructor.user_id}/courses", done)
    course = next(c for c in counts["items"] if c["course_id"] == course_id)
    assert (course["enrollment_count"], course["completed_count"]) == (2, 1)

    others = bob.http.get(f"{reads}/students/{ada.user_id}/enrollments", headers=bob.headers)
    assert others.status_code == 403
