"""Size limits and retries through the real command API: a course cannot outgrow what Kafka
takes (422 course.too_large), a body no command accepts is refused at the door (413), and a
retried command that already took effect answers success without a second event."""

from __future__ import annotations

import psycopg
import pytest

from commands.domain.limits import MAX_COURSE_CONTENT_CHARS
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.integration


def count_events(settings: Settings, aggregate_id: str) -> int:
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM event_store.events WHERE aggregate_id = %s",
                           [aggregate_id]).fetchone()
        return int(row[0]) if row else 0


def test_a_course_larger_than_its_limit_is_refused_and_changes_nothing(
        command_api: str, stack: Settings) -> None:
    instructor = CommandClient(command_api, role="instructor")
    course_id = instructor.create_course()
    module = instructor.post(f"/courses/{course_id}/modules", {"title": "M"}).json()["module_id"]
    text = "word " * 20_000  # 100,000 characters: the largest lesson
    for n in range(MAX_COURSE_CONTENT_CHARS // len(text)):
        added = instructor.post(f"/courses/{course_id}/modules/{module}/lessons",
                                {"title": f"L{n}", "content": text})
        assert added.status_code == 201, added.text
    before = count_events(stack, course_id)

    refused = instructor.post(f"/courses/{course_id}/modules/{module}/lessons",
                              {"title": "Too much", "content": text})

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "course.too_large"
    assert refused.json()["error"]["limit"] == MAX_COURSE_CONTENT_CHARS
    assert count_events(stack, course_id) == before
    published = instructor.post(f"/courses/{course_id}/publish")  # a reference per lesson
    assert published.status_code == 202, published.text
    with psycopg.connect(stack.pg_dsn) as conn:
        (size,) = conn.execute(
            "SELECT octet_length(payload::text) FROM event_store.events WHERE aggregate_id = %s"
            " AND event_type = 'course.published'", [course_id]).fetchone()
    assert size < 10_000


def test_a_body_larger_than_any_command_is_refused_with_413(command_api: str,
                                                            stack: Settings) -> None:
    instructor = CommandClient(command_api, role="instructor")
    course_id = instructor.create_course()
    refused = instructor.post(f"/courses/{course_id}/modules",
                              {"title": "M", "padding": "x" * (stack.max_request_bytes + 1)})
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "request.too_large"


def test_completing_the_last_lesson_again_answers_success_without_an_event(
        command_api: str, stack: Settings) -> None:
    course_id, lessons = CommandClient(command_api, role="instructor").published_course(
        lessons=1)
    student = CommandClient(command_api)
    enrollment = student.post(f"/courses/{course_id}/enroll").json()["enrollment_id"]
    # What the enrollment workflow does (no workflow worker runs in integration tests).
    admin = CommandClient(command_api, role="admin")
    assert admin.post(f"/enrollments/{enrollment}/activate").status_code == 200
    done = student.post(f"/enrollments/{enrollment}/lessons/{lessons[0]}/complete")
    assert done.status_code == 200 and done.json()["state"] == "COMPLETED"
    events = count_events(stack, enrollment)

    again = student.post(f"/enrollments/{enrollment}/lessons/{lessons[0]}/complete")

    assert again.status_code == 200, again.text
    assert again.json()["state"] == "COMPLETED"
    assert again.json()["position"] == done.json()["position"]
    assert count_events(stack, enrollment) == events
