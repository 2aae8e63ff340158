"""The command API against real PostgreSQL and Redis, through a real uvicorn process."""

from __future__ import annotations

import asyncio
from collections import Counter
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from smartcourse.settings import Settings
from tests.support.command_client import CommandClient


def events_of(settings: Settings, aggregate_id: str) -> list[tuple[int, str, UUID]]:
    with psycopg.connect(settings.pg_dsn) as conn:
        return conn.execute(
            "SELECT position, event_type, correlation_id FROM event_store.events"
            " WHERE aggregate_id = %s ORDER BY version", [aggregate_id]).fetchall()


async def enroll_concurrently(base_url: str, course_id: str, students: int) -> list[httpx.Response]:
    with httpx.Client(base_url=base_url, timeout=60) as accounts:
        headers = [CommandClient(base_url, client=accounts).headers for _ in range(students)]
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        return await asyncio.gather(
            *(http.post(f"/courses/{course_id}/enroll", headers=h) for h in headers))


@pytest.mark.parametrize("attempt", range(3))
def test_fifty_concurrent_enrollments_for_ten_seats(command_api: str, attempt: int) -> None:
    instructor = CommandClient(command_api, role="instructor")
    course_id, _ = instructor.published_course(capacity=10)

    replies = asyncio.run(enroll_concurrently(command_api, course_id, 50))

    statuses = Counter(r.status_code for r in replies)
    assert statuses == {202: 10, 409: 40}
    refused = {r.json()["error"]["code"] for r in replies if r.status_code == 409}
    assert refused == {"enrollment.seat_cap_reached"}
    enrolled = {r.json()["enrollment_id"] for r in replies if r.status_code == 202}
    assert len(enrolled) == 10


def test_repeated_enroll_returns_the_same_enrollment(command_api: str, stack: Settings) -> None:
    course_id, _ = CommandClient(command_api, role="instructor").published_course()
    student = CommandClient(command_api)
    first = student.post(f"/courses/{course_id}/enroll")
    again = student.post(f"/courses/{course_id}/enroll")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["enrollment_id"] == again.json()["enrollment_id"]
    assert first.json()["state"] == "PENDING"
    assert len(events_of(stack, first.json()["enrollment_id"])) == 1


def test_idempotency_key_replays_the_response_and_appends_nothing(
    command_api: str, stack: Settings
) -> None:
    instructor = CommandClient(command_api, role="instructor")
    key = str(uuid4())
    first = instructor.post("/courses", {"title": "Once"}, **{"Idempotency-Key": key})
    again = instructor.post("/courses", {"title": "Once"}, **{"Idempotency-Key": key})
    other = instructor.post("/courses", {"title": "Other"}, **{"Idempotency-Key": key})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(events_of(stack, first.json()["course_id"])) == 1
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency.key_reused"


def test_consistency_token_and_correlation_id_reach_the_event_store(
    command_api: str, stack: Settings
) -> None:
    instructor = CommandClient(command_api, role="instructor")
    correlation = str(uuid4())
    created = instructor.post("/courses", {"title": "Traced"}, **{"X-Correlation-ID": correlation})
    assert created.json()["correlation_id"] == correlation
    [(position, event_type, stored_correlation)] = events_of(stack, created.json()["course_id"])
    assert (event_type, str(stored_correlation)) == ("course.created", correlation)
    assert created.json()["position"] == position
    assert created.headers["X-Consistency-Token"] == str(position)


def test_roles_and_ownership(command_api: str) -> None:
    owner = CommandClient(command_api, role="instructor")
    course_id = owner.create_course()
    other_instructor = CommandClient(command_api, role="instructor")
    student = CommandClient(command_api)
    admin = CommandClient(command_api, role="admin")

    denied = other_instructor.put(f"/courses/{course_id}/capacity", {"capacity": 5})
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "course.not_owner")
    assert student.post("/courses", {"title": "Mine"}).status_code == 403
    assert admin.put(f"/courses/{course_id}/capacity", {"capacity": 5}).status_code == 200
    unauthenticated = httpx.post(f"{command_api}/courses", json={"title": "x"})
    assert unauthenticated.status_code == 401
    forged = httpx.post(f"{command_api}/courses", json={"title": "x"},
                        headers={"Authorization": "Bearer not.a.token"})
    assert forged.json()["error"]["code"] == "auth.invalid_token"


def test_bad_input_is_refused_and_changes_nothing(command_api: str, stack: Settings) -> None:
    instructor = CommandClient(command_api, role="instructor")
    course_id = instructor.create_course()
    before = events_of(stack, course_id)

    too_long = instructor.put(f"/courses/{course_id}/details", {"title": "x" * 201})
    negative = instructor.put(f"/courses/{course_id}/capacity", {"capacity": -1})
    unknown = instructor.put(f"/courses/{uuid4()}/capacity", {"capacity": 5})
    not_publishable = instructor.post(f"/courses/{course_id}/publish")

    assert too_long.status_code == negative.status_code == 422
    assert too_long.json()["error"]["code"] == "request.invalid"
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "course.not_found")
    assert not_publishable.status_code == 422
    assert not_publishable.json()["error"]["code"] == "course.no_lessons"
    assert events_of(stack, course_id) == before


def test_prerequisites_are_enforced_when_enrolling(command_api: str) -> None:
    instructor = CommandClient(command_api, role="instructor")
    basics, basic_lessons = instructor.published_course(lessons=1)
    advanced, _ = instructor.published_course(prerequisites=[basics])
    student = CommandClient(command_api)

    refused = student.post(f"/courses/{advanced}/enroll")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "enrollment.prerequisites_missing"

    enrollment = student.post(f"/courses/{basics}/enroll").json()["enrollment_id"]
    admin = CommandClient(command_api, role="admin")  # the enrollment workflow's part here
    assert student.post(f"/enrollments/{enrollment}/activate").status_code == 403
    assert admin.post(f"/enrollments/{enrollment}/activate").json()["state"] == "ACTIVE"
    done = student.post(f"/enrollments/{enrollment}/lessons/{basic_lessons[0]}/complete")
    assert done.json()["state"] == "COMPLETED"
    assert student.post(f"/courses/{advanced}/enroll").status_code == 202
