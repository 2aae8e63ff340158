"""The query API against the real read models, through a real uvicorn process.

Writes go through the command API; the read models are fed from the event store by
`ReadModels` the way the live worker feeds them (the sink, the version rule, watermarks),
so these tests need neither Kafka nor a running worker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx
import pytest
from psycopg import AsyncConnection

from projections.deliveries import EventDelivery, WatermarkDelivery
from projections.positions import advance_positions, aprojection_positions
from projections.registry import PROJECTIONS
from projections.schema import ensure_read_models
from projections.sink import PostgresProjector
from projections.store_reader import read_pages, store_head
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient
from tests.support.quizzes import answers_for, choice_quiz


class ReadModels:
    """Applies the event store to every projection as the live worker would: each event
    after the projection's position through its sink (duplicates skipped by the version
    rule), then watermarks at the store's head for every partition it reads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def catch_up(self) -> int:
        """Bring every projection to the store's current head; returns that head."""
        return asyncio.run(self._catch_up())

    def head(self) -> int:
        return asyncio.run(self._head())

    async def _head(self) -> int:
        async with await AsyncConnection.connect(self.settings.pg_dsn, autocommit=True) as conn:
            return await store_head(conn)

    async def _catch_up(self) -> int:
        s = self.settings
        async with await AsyncConnection.connect(s.pg_dsn, autocommit=True) as conn:
            await ensure_read_models(conn)
            head = await store_head(conn)
            reached = await aprojection_positions(conn, s.worker_topic_partitions)
            for projection in PROJECTIONS.values():
                projector = PostgresProjector(projection)
                async for events in read_pages(conn, reached.get(projection.name, 0), head,
                                                projection.aggregate_types, 2_000):
                    await projector.apply(conn, [EventDelivery(e) for e in events])
                await projector.apply(conn, [
                    WatermarkDelivery(topic, partition, head)
                    for topic in projection.topics(s.worker_topic_prefix)
                    for partition in range(s.worker_topic_partitions)])
                # Rows of other topic prefixes (test workers) hold everything up to head too.
                await advance_positions(conn, projection.name, head)
        return head


class Reader:
    """A query API client acting as one user (or anonymously)."""

    def __init__(self, base_url: str, client: CommandClient | None = None) -> None:
        self.user_id = client.user_id if client else None
        self.role = client.role if client else None
        self.http = httpx.Client(base_url=base_url, headers=client.headers if client else {},
                                 timeout=30)

    def get(self, path: str, token: int | None = None, **params: Any) -> httpx.Response:
        headers = {"X-Consistency-Token": str(token)} if token is not None else {}
        return self.http.get(path, params=params, headers=headers)

    def ok(self, path: str, token: int | None = None, **params: Any) -> Any:
        answer = self.get(path, token, **params)
        assert answer.status_code == 200, answer.text
        if token is not None:
            assert int(answer.headers["X-Read-Position"]) >= token
        return answer.json()

    def refused(self, path: str, expected: int, code: str, **params: Any) -> None:
        answer = self.get(path, **params)
        assert answer.status_code == expected, answer.text
        assert answer.json()["error"]["code"] == code


@dataclass
class World:
    """Courses, enrollments and progress written through the command API."""

    marker: str
    tag: str
    instructor: CommandClient
    other_instructor: CommandClient
    students: list[CommandClient]
    admin: CommandClient
    courses: dict[str, str] = field(default_factory=dict)  # name -> course id
    lessons: dict[str, list[str]] = field(default_factory=dict)  # module name -> lesson ids
    modules: dict[str, str] = field(default_factory=dict)
    enrollments: dict[tuple[int, str], str] = field(default_factory=dict)  # (student, course)
    position: int = 0

    def write(self, client: CommandClient, path: str, body: Any = None) -> dict[str, Any]:
        reply = client.post(path, body)
        assert reply.is_success, reply.text
        self.position = max(self.position, reply.json()["position"])
        return reply.json()

    def course(self, client: CommandClient, name: str, tags: list[str], capacity: int = 10,
               modules: dict[str, int] | None = None, publish: bool = True) -> str:
        course_id = self.write(client, "/courses", {
            "title": f"{self.marker} {name}", "tags": tags, "capacity": capacity,
            "description": f"About {name}."})["course_id"]
        self.courses[name] = course_id
        for module, count in (modules or {f"{name} module": 1}).items():
            module_id = self.write(client, f"/courses/{course_id}/modules",
                                   {"title": module})["module_id"]
            self.modules[module] = module_id
            self.lessons[module] = [self.write(
                client, f"/courses/{course_id}/modules/{module_id}/lessons",
                {"title": f"{module} lesson {n + 1}", "content": "x" * (10 + n)})["lesson_id"]
                for n in range(count)]
        if publish:
            self.write(client, f"/courses/{course_id}/publish")
        return course_id

    def enroll(self, student: int, course: str) -> str:
        reply = self.write(self.students[student], f"/courses/{self.courses[course]}/enroll")
        self.enrollments[(student, course)] = reply["enrollment_id"]
        return reply["enrollment_id"]

    def act(self, student: int, course: str, action: str, body: Any = None) -> None:
        enrollment = self.enrollments[(student, course)]
        self.write(self.students[student], f"/enrollments/{enrollment}/{action}", body)

    def activate(self, student: int, course: str) -> None:
        """What the enrollment workflow does on its own (students never activate their own)."""
        enrollment = self.enrollments[(student, course)]
        self.write(self.admin, f"/enrollments/{enrollment}/activate")


@pytest.fixture(scope="module")
def read_models(stack: Settings) -> ReadModels:
    return ReadModels(stack)


@pytest.fixture(scope="module")
def world(command_api: str, read_models: ReadModels) -> World:
    """Instructor A: Alpha (published, two modules), Beta (draft), Gamma (published).
    Instructor B: Delta (published). Students 0-2 in Alpha: 0 active with one lesson and a
    quiz, 1 completed, 2 cancelled; student 0 also enrolled (later) in Gamma."""
    marker = f"qa{uuid4().hex[:12]}"
    w = World(marker, f"tag-{marker}", CommandClient(command_api, role="instructor"),
              CommandClient(command_api, role="instructor"),
              [CommandClient(command_api) for _ in range(3)],
              CommandClient(command_api, role="admin"))
    w.course(w.instructor, "Alpha", [w.tag, "python"], modules={"M1": 2, "M2": 1})
    w.course(w.instructor, "Beta", ["draft"], publish=False)
    w.course(w.instructor, "Gamma", ["python"], capacity=5)
    w.course(w.other_instructor, "Delta", [f"other-{marker}"])
    alpha = [*w.lessons["M1"], *w.lessons["M2"]]
    for student in range(3):
        w.enroll(student, "Alpha")
    for student in (0, 1):
        w.activate(student, "Alpha")
    w.act(0, "Alpha", f"lessons/{alpha[0]}/complete")
    quiz = choice_quiz(5, module_id=w.modules["M1"])
    quiz_id = w.write(w.instructor, f"/courses/{w.courses['Alpha']}/quizzes", quiz)["quiz_id"]
    w.act(0, "Alpha", f"quizzes/{quiz_id}/attempts", answers_for(quiz, right=4))
    for lesson in alpha:
        w.act(1, "Alpha", f"lessons/{lesson}/complete")
    w.act(2, "Alpha", "cancel", {"reason": "changed my mind"})
    w.enroll(0, "Gamma")
    assert read_models.catch_up() >= w.position
    return w


@pytest.fixture(scope="module")
def anonymous(query_api: str, stack: Settings) -> Reader:
    return Reader(query_api)


@pytest.fixture(scope="module")
def admin(query_api: str, command_api: str) -> Reader:
    return Reader(query_api, CommandClient(command_api, role="admin"))


def as_user(query_api: str, settings: Settings, client: CommandClient) -> Reader:
    return Reader(query_api, client)


@pytest.fixture(scope="module")
def readers(query_api: str, stack: Settings, world: World) -> dict[str, Reader]:
    """The world's users as query API clients: a, b (instructors), s0-s2 (students)."""
    return {"a": as_user(query_api, stack, world.instructor),
           "b": as_user(query_api, stack, world.other_instructor),
           **{f"s{n}": as_user(query_api, stack, s) for n, s in enumerate(world.students)}}


def titles(page: dict[str, Any]) -> list[str]:
    return [item["title"].split(" ", 1)[1] for item in page["items"]]


def ids(page: dict[str, Any], key: str) -> list[str]:
    return [item[key] for item in page["items"]]


def test_health_and_openapi(anonymous: Reader) -> None:
    ready = anonymous.ok("/health/ready")
    assert ready["status"] == "ok" and ready["checks"]["postgres"]["ok"] is True
    assert anonymous.ok("/health") == ready
    assert anonymous.ok("/health/live") == {"status": "ok"}
    paths = anonymous.ok("/openapi.json")["paths"]
    assert {"/courses", "/courses/{course_id}", "/courses/{course_id}/roster",
            "/instructors/{instructor_id}/courses", "/students/{student_id}/enrollments",
            "/enrollments/{enrollment_id}", "/projections", "/health", "/health/live",
            "/health/ready"} <= set(paths)


def test_the_catalog_lists_published_courses_by_title(anonymous: Reader, world: World) -> None:
    page = anonymous.ok("/courses", world.position, q=world.marker, sort="title")
    assert titles(page) == ["Alpha", "Delta", "Gamma"]  # not the draft Beta
    alpha = page["items"][0]
    assert alpha["course_id"] == world.courses["Alpha"]
    assert alpha["instructor_id"] == str(world.instructor.user_id)
    assert alpha["tags"] == [world.tag, "python"]
    assert alpha["status"] in ("PUBLISHED", "READY")
    assert (alpha["capacity"], alpha["seats_taken"], alpha["seats_available"]) == (10, 2, 8)
    assert alpha["content_version"] == 1 and alpha["published_at"] is not None
    assert page["next_cursor"] is None


def test_catalog_search_and_filters(anonymous: Reader, world: World) -> None:
    assert titles(anonymous.ok("/courses", q=world.marker.upper(), sort="title")) == [
        "Alpha", "Delta", "Gamma"]
    assert titles(anonymous.ok("/courses", q=f"{world.marker} gam")) == ["Gamma"]
    assert titles(anonymous.ok("/courses", tag=world.tag)) == ["Alpha"]
    assert titles(anonymous.ok("/courses", q=world.marker, sort="title",
                               tag=["python", world.tag])) == ["Alpha"]
    assert titles(anonymous.ok("/courses", q=world.marker, sort="title", tag="python")) == [
        "Alpha", "Gamma"]
    assert titles(anonymous.ok("/courses", q=world.marker, sort="title",
                               tag=["python", "nope"])) == []
    assert titles(anonymous.ok("/courses", q=world.marker, sort="title",
                               instructor_id=str(world.other_instructor.user_id))) == ["Delta"]
    ready = anonymous.ok("/courses", q=world.marker, sort="title", status="READY")["items"]
    assert {c["status"] for c in ready} <= {"READY"}  # made ready by content processing
    assert titles(anonymous.ok("/courses", q="%_")) == []  # no word: no wildcard either
    ranked = titles(anonymous.ok("/courses", q=f"{world.marker} alpha"))
    assert ranked == ["Alpha"]  # every word must match


def test_drafts_are_listed_for_their_instructor_and_admins(
        anonymous: Reader, admin: Reader, readers: dict[str, Reader], world: World) -> None:
    anonymous.refused("/courses", 401, "auth.unauthorized", status="DRAFT")
    readers["s0"].refused("/courses", 403, "catalog.status_forbidden", status="DRAFT")
    readers["b"].refused("/courses", 403, "catalog.status_forbidden", status="DRAFT",
                         instructor_id=str(world.instructor.user_id))
    drafts = {"status": "DRAFT", "q": world.marker, "sort": "title"}
    assert titles(readers["a"].ok("/courses", **drafts)) == ["Beta"]
    assert titles(readers["b"].ok("/courses", **drafts)) == []
    assert titles(admin.ok("/courses", **drafts)) == ["Beta"]


def test_catalog_pages_follow_the_cursor(anonymous: Reader, world: World) -> None:
    seen, cursor = [], None
    for _ in range(5):
        params = {"q": world.marker, "sort": "title", "limit": 1,
                  **({"cursor": cursor} if cursor else {})}
        page = anonymous.ok("/courses", **params)
        seen += titles(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Alpha", "Delta", "Gamma"]
    two = anonymous.ok("/courses", q=world.marker, sort="title", limit=2)
    assert titles(two) == ["Alpha", "Delta"]
    rest = anonymous.ok("/courses", q=world.marker, sort="title", limit=2,
                        cursor=two["next_cursor"])
    assert (titles(rest), rest["next_cursor"]) == (["Gamma"], None)


def test_course_detail_has_modules_and_lessons_in_order(
        anonymous: Reader, world: World) -> None:
    course = anonymous.ok(f"/courses/{world.courses['Alpha']}", world.position)
    assert [m["module_id"] for m in course["modules"]] == [world.modules["M1"],
                                                           world.modules["M2"]]
    assert [m["position"] for m in course["modules"]] == [0, 1]
    lessons = [[x["lesson_id"] for x in m["lessons"]] for m in course["modules"]]
    assert lessons == [world.lessons["M1"], world.lessons["M2"]]
    first = course["modules"][0]["lessons"][0]
    assert (first["title"], first["position"], first["content_length"]) == (
        "M1 lesson 1", 0, 10)
    assert (course["content_version"], course["seats_available"], course["capacity"]) == (
        1, 8, 10)
    assert course["status"] in ("PUBLISHED", "READY")


def test_a_draft_course_is_seen_by_its_instructor_and_admins_only(
        anonymous: Reader, admin: Reader, readers: dict[str, Reader], world: World) -> None:
    beta = f"/courses/{world.courses['Beta']}"
    anonymous.refused(beta, 404, "course.not_found")
    readers["s0"].refused(beta, 404, "course.not_found")
    readers["b"].refused(beta, 404, "course.not_found")
    assert readers["a"].ok(beta)["status"] == "DRAFT"
    assert admin.ok(beta)["modules"][0]["title"] == "Beta module"
    anonymous.refused(f"/courses/{uuid4()}", 404, "course.not_found")
    anonymous.refused("/courses/not-a-uuid", 422, "request.invalid")


def test_an_instructor_sees_their_courses_with_counts(
        anonymous: Reader, admin: Reader, readers: dict[str, Reader], world: World) -> None:
    path = f"/instructors/{world.instructor.user_id}/courses"
    page = readers["a"].ok(path, world.position)
    assert titles(page) == ["Alpha", "Beta", "Gamma"]
    alpha = page["items"][0]
    assert (alpha["enrollment_count"], alpha["active_count"], alpha["completed_count"],
            alpha["cancelled_count"]) == (2, 1, 1, 1)
    assert alpha["completion_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert titles(readers["a"].ok(path, status="DRAFT")) == ["Beta"]
    assert ids(admin.ok(path), "course_id") == ids(page, "course_id")
    first = readers["a"].ok(path, limit=2)
    assert titles(first) == ["Alpha", "Beta"]
    assert titles(readers["a"].ok(path, limit=2, cursor=first["next_cursor"])) == ["Gamma"]
    readers["b"].refused(path, 403, "auth.not_yours")
    readers["s0"].refused(path, 403, "auth.not_yours")
    anonymous.refused(path, 401, "auth.unauthorized")


def test_a_student_sees_their_enrollments_with_progress(
        admin: Reader, readers: dict[str, Reader], world: World) -> None:
    path = f"/students/{world.students[0].user_id}/enrollments"
    page = readers["s0"].ok(path, world.position)
    assert [e["course_id"] for e in page["items"]] == [world.courses["Gamma"],
                                                       world.courses["Alpha"]]  # newest first
    alpha = page["items"][1]
    assert alpha["enrollment_id"] == world.enrollments[(0, "Alpha")]
    assert (alpha["state"], alpha["completed_count"], alpha["total_lessons"]) == ("ACTIVE", 1, 3)
    assert alpha["progress_percent"] == pytest.approx(33.33)
    assert alpha["completed_lessons"] == [world.lessons["M1"][0]]
    assert alpha["next_lesson"] == {"lesson_id": world.lessons["M1"][1],
                                    "title": "M1 lesson 2"}
    assert alpha["course_title"] == f"{world.marker} Alpha"
    active = readers["s0"].ok(path, state="ACTIVE")["items"]
    assert world.courses["Alpha"] in [e["course_id"] for e in active]
    assert {e["state"] for e in active} == {"ACTIVE"}
    first = readers["s0"].ok(path, limit=1)
    second = readers["s0"].ok(path, limit=1, cursor=first["next_cursor"])
    assert [first["items"][0]["course_id"], second["items"][0]["course_id"]] == [
        world.courses["Gamma"], world.courses["Alpha"]]
    assert second["next_cursor"] is None
    assert ids(admin.ok(path), "enrollment_id") == ids(page, "enrollment_id")
    readers["s1"].refused(path, 403, "auth.not_yours")


def test_one_enrollment_for_its_student_and_admins(
        admin: Reader, readers: dict[str, Reader], world: World) -> None:
    path = f"/enrollments/{world.enrollments[(1, 'Alpha')]}"
    done = readers["s1"].ok(path, world.position)
    assert (done["state"], done["progress_percent"], done["next_lesson"]) == (
        "COMPLETED", 100.0, None)
    assert done["completed_at"] is not None
    assert admin.ok(path)["enrollment_id"] == done["enrollment_id"]
    readers["s0"].refused(path, 403, "auth.not_yours")
    readers["s0"].refused(f"/enrollments/{uuid4()}", 404, "enrollment.not_found")
    cancelled = readers["s2"].ok(f"/enrollments/{world.enrollments[(2, 'Alpha')]}")
    assert cancelled["state"] == "CANCELLED"


def test_the_roster_is_for_the_course_instructor_and_admins(
        anonymous: Reader, admin: Reader, readers: dict[str, Reader], world: World) -> None:
    path = f"/courses/{world.courses['Alpha']}/roster"
    page = readers["a"].ok(path, world.position)
    students = [str(s.user_id) for s in world.students]
    assert [e["student_id"] for e in page["items"]] == students  # in enrollment order
    first = page["items"][0]
    assert (first["state"], first["completed_count"], first["total_lessons"]) == (
        "ACTIVE", 1, 3)
    assert first["quiz_average"] == pytest.approx(80.0)
    completed = readers["a"].ok(path, state="COMPLETED")["items"]
    assert [e["student_id"] for e in completed] == [students[1]]
    two = readers["a"].ok(path, limit=2)
    rest = readers["a"].ok(path, limit=2, cursor=two["next_cursor"])
    assert [e["student_id"] for e in two["items"] + rest["items"]] == students
    assert ids(admin.ok(path), "enrollment_id") == ids(page, "enrollment_id")
    readers["b"].refused(path, 403, "course.not_owner")
    readers["s0"].refused(path, 403, "course.not_owner")
    anonymous.refused(path, 401, "auth.unauthorized")
    readers["a"].refused(f"/courses/{uuid4()}/roster", 404, "course.not_found")


@pytest.mark.parametrize(("path", "params", "headers"), [
    ("/courses", {"limit": 0}, {}),
    ("/courses", {"limit": 101}, {}),
    ("/courses", {"limit": "ten"}, {}),
    ("/courses", {"cursor": "!!"}, {}),
    ("/courses", {"cursor": "bm90LWEtY3Vyc29y"}, {}),  # base64 of something else
    ("/courses", {"status": "SECRET"}, {}),
    ("/courses", {"q": ""}, {}),
    ("/courses", {"q": "x" * 201}, {}),
    ("/courses", {"tag": "t" * 41}, {}),
    ("/courses", {"q": "nul\x00"}, {}),
    ("/courses", {"instructor_id": "nope"}, {}),
    ("/courses", {"after_position": -1}, {}),
    ("/courses", {}, {"X-Consistency-Token": "soon"}),
    ("/courses", {}, {"X-Consistency-Token": str(2**63)}),
    ("/courses/123", {}, {}),
    ("/enrollments/xyz", {}, {}),
    ("/students/xyz/enrollments", {}, {}),
], ids=lambda v: str(v)[:40])
def test_bad_input_is_a_4xx_with_a_code(admin: Reader, path: str, params: dict[str, Any],
                                        headers: dict[str, str]) -> None:
    answer = admin.http.get(path, params=params, headers=headers)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]["code"] in ("request.invalid", "request.invalid_cursor")


def test_a_bad_bearer_token_is_a_401(query_api: str) -> None:
    answer = httpx.get(f"{query_api}/courses", headers={"Authorization": "Bearer forged"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "auth.invalid_token"
    assert answer.headers["WWW-Authenticate"] == "Bearer"
