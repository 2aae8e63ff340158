"""The RBAC matrix: every endpoint of the command, query and assistant APIs (read from their
OpenAPI, so a new endpoint cannot escape it: the guard test fails until it has a policy row)
× every role (anonymous, student, instructor, admin, deactivated) × owner or not where
ownership applies, each request sent to the real servers and its answer judged allowed
(anything but 401/403) or refused (401 for no identity, 403 otherwise).

The servers are this module's own (the platform's processes with the chaos hooks on, so
`/admin/chaos` is in the matrix too); one world of accounts and one course serve every cell.
Cells that would spoil the world (erasing or deactivating oneself, changing one's password)
act as a fresh account of the role; destructive writes aim at ids that do not exist (the
ownership check comes first) or run last."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from assistant.api.app import create_app as assistant_app
from commands.api.app import create_app as command_app
from query_api.app import create_app as query_app
from smartcourse.local_servers import serve
from smartcourse.settings import Settings
from tests.integration.test_query_api import ReadModels
from tests.support import webhooks
from tests.support.accounts import Login, account, new_email, new_password, operator_admin
from tests.support.quizzes import choice_quiz

CONFIRM_UPLOAD = "/courses/{course_id}/lessons/{lesson_id}/asset-uploads/{upload_id}/confirm"
ROLES = ("anonymous", "student", "instructor", "admin", "deactivated")
SERVERS = {"SMARTCOURSE_CHAOS_ENABLED": "true", "SMARTCOURSE_ACCESS_TOKEN_TTL_SECONDS": "3600"}

# Who may call what. Rules: public (no identity read at all), optional (anonymous or an active
# user), user (any active user), instructor, admin, and ownership rules (the owner or an
# admin): course (its instructor), enrollment (its student), self (the path's user),
# instructor-self (an instructor's own), learner (the course's instructor or an active
# student of it), and self-only (the user themself, not even an admin).
POLICY: dict[tuple[str, str, str], str] = {
    ("command", "POST", "/auth/token"): "public",
    ("command", "POST", "/auth/revoke"): "public",
    ("command", "POST", "/auth/logout"): "user",
    ("command", "GET", "/.well-known/jwks.json"): "public",
    ("command", "POST", "/auth/dev-token"): "public",
    ("command", "POST", "/users"): "optional",
    ("command", "PUT", "/users/{user_id}/role"): "admin",
    ("command", "POST", "/users/{user_id}/deactivate"): "self",
    ("command", "POST", "/users/{user_id}/reactivate"): "admin",
    ("command", "PUT", "/users/me/password"): "user",
    ("command", "POST", "/courses"): "instructor",
    ("command", "PUT", "/courses/{course_id}/details"): "course",
    ("command", "PUT", "/courses/{course_id}/capacity"): "course",
    ("command", "PUT", "/courses/{course_id}/prerequisites"): "course",
    ("command", "POST", "/courses/{course_id}/modules"): "course",
    ("command", "PUT", "/courses/{course_id}/modules/{module_id}"): "course",
    ("command", "DELETE", "/courses/{course_id}/modules/{module_id}"): "course",
    ("command", "PUT", "/courses/{course_id}/module-order"): "course",
    ("command", "POST", "/courses/{course_id}/modules/{module_id}/lessons"): "course",
    ("command", "PUT", "/courses/{course_id}/lessons/{lesson_id}"): "course",
    ("command", "DELETE", "/courses/{course_id}/lessons/{lesson_id}"): "course",
    ("command", "PUT", "/courses/{course_id}/lessons/{lesson_id}/place"): "course",
    ("command", "PUT", "/courses/{course_id}/lessons/{lesson_id}/assets"): "course",
    ("command", "POST", "/courses/{course_id}/lessons/{lesson_id}/assets"): "course",
    ("command", "PUT", "/courses/{course_id}/lessons/{lesson_id}/assets/{asset_id}"): "course",
    ("command", "DELETE", "/courses/{course_id}/lessons/{lesson_id}/assets/{asset_id}"):
        "course",
    ("command", "POST", "/courses/{course_id}/lessons/{lesson_id}/asset-uploads"): "course",
    ("command", "POST", CONFIRM_UPLOAD): "course",
    ("command", "POST", "/courses/{course_id}/publish"): "course",
    ("command", "POST", "/courses/{course_id}/archive"): "course",
    ("command", "POST", "/courses/{course_id}/restore"): "course",
    ("command", "DELETE", "/courses/{course_id}"): "course",
    ("command", "POST", "/courses/{course_id}/enroll"): "user",
    ("command", "POST", "/enrollments/{enrollment_id}/activate"): "admin",  # the workflow's
    ("command", "POST", "/enrollments/{enrollment_id}/lessons/{lesson_id}/complete"):
        "enrollment",
    ("command", "POST", "/enrollments/{enrollment_id}/cancel"): "enrollment",
    ("command", "POST", "/courses/{course_id}/quizzes"): "course",
    ("command", "PUT", "/courses/{course_id}/quizzes/{quiz_id}"): "course",
    ("command", "DELETE", "/courses/{course_id}/quizzes/{quiz_id}"): "course",
    ("command", "PUT", "/courses/{course_id}/quiz-rules"): "course",
    ("command", "POST", "/enrollments/{enrollment_id}/quizzes/{quiz_id}/attempts"):
        "enrollment",
    ("command", "POST", "/unsubscribe"): "public",  # the signed link is the credential
    ("command", "GET", "/unsubscribe"): "public",
    ("command", "POST", "/users/{user_id}/notification-preferences"): "self",
    ("command", "POST", "/webhooks"): "admin",
    ("command", "PUT", "/courses/{course_id}/start"): "course",
    ("command", "DELETE", "/webhooks/{webhook_id}"): "admin",
    ("command", "GET", "/webhooks"): "admin",
    ("command", "POST", "/webhooks/{webhook_id}/enable"): "admin",
    ("command", "POST", "/workflows/{workflow_id}/cancel"): "admin",
    ("command", "POST", "/users/{user_id}/consents"): "self-only",
    ("command", "DELETE", "/users/{user_id}/consents/{purpose}"): "self",
    ("command", "POST", "/users/{user_id}/erasure"): "self",
    ("command", "GET", "/admin/chaos"): "admin",
    ("command", "PUT", "/admin/chaos/{dependency}"): "admin",
    ("command", "DELETE", "/admin/chaos"): "admin",
    ("command", "GET", "/metrics"): "public",
    ("command", "GET", "/health/live"): "public",
    ("command", "GET", "/health/ready"): "public",
    ("command", "GET", "/health"): "public",
    ("query", "GET", "/courses"): "optional",
    ("query", "GET", "/courses/{course_id}"): "optional",  # published: public
    ("query", "GET", "/courses/{course_id}/roster"): "course",
    ("query", "GET", "/instructors/{instructor_id}/courses"): "instructor-self",
    ("query", "GET", "/students/{student_id}/enrollments"): "self",
    ("query", "GET", "/enrollments/{enrollment_id}"): "enrollment",
    ("query", "GET", "/enrollments/{enrollment_id}/progress"): "enrollment",
    ("query", "GET", "/courses/{course_id}/lessons/{lesson_id}"): "learner",
    ("query", "GET", "/courses/{course_id}/lessons/{lesson_id}/assets/{asset_id}"): "learner",
    ("query", "GET", "/courses/{course_id}/quizzes"): "learner",
    ("query", "GET", "/enrollments/{enrollment_id}/quizzes"): "enrollment",
    ("query", "GET", "/courses/{course_id}/versions"): "learner",
    ("query", "GET", "/courses/{course_id}/versions/{from_version}/diff/{to_version}"):
        "learner",
    ("query", "GET", "/workflows/{workflow_id}"): "user",  # no run exists: owner not judged
    ("query", "GET", "/courses/{course_id}/search"): "optional",
    ("query", "GET", "/search"): "public",
    ("query", "GET", "/courses/{course_id}/trends"): "course",
    ("query", "GET", "/analytics/anomalies"): "admin",
    ("query", "GET", "/projections"): "admin",
    ("query", "GET", "/certificates/{certificate_id}"): "public",  # verification by id
    ("query", "GET", "/certificates/{certificate_id}/pdf"): "public",
    ("query", "GET", "/courses/{course_id}/enhancements"): "course",  # drafts hold answers
    ("query", "GET", "/enhancements/{draft_id}"): "user",  # no draft exists: owner not judged
    ("query", "GET", "/audit"): "admin",
    ("query", "GET", "/audit/export"): "admin",
    ("query", "GET", "/users/{user_id}/export"): "self",
    ("query", "GET", "/admin/chaos"): "admin",
    ("query", "PUT", "/admin/chaos/{dependency}"): "admin",
    ("query", "DELETE", "/admin/chaos"): "admin",
    ("query", "GET", "/metrics"): "public",
    ("query", "GET", "/health/live"): "public",
    ("query", "GET", "/health/ready"): "public",
    ("query", "GET", "/health"): "public",
    ("assistant", "POST", "/courses/{course_id}/questions"): "learner",
    ("assistant", "GET", "/health"): "public",
    ("assistant", "POST", "/courses/{course_id}/lessons/{lesson_id}/enhancements"): "course",
    ("assistant", "PUT", "/enhancements/{draft_id}"): "user",  # no draft exists: not judged
    ("assistant", "POST", "/enhancements/{draft_id}/accept"): "user",
    ("assistant", "POST", "/enhancements/{draft_id}/discard"): "user",
}
OWNED = {"course", "enrollment", "self", "instructor-self", "learner", "self-only"}
# Cells whose owner would spoil the world: they act as a fresh account of the role.
FRESH_SELF = {("command", "POST", "/users/{user_id}/deactivate"),
              ("command", "POST", "/users/{user_id}/erasure"),
              ("command", "PUT", "/users/me/password")}
# Writes that change the world's course or enrollment for good: after every other cell.
LAST = {("command", "POST", "/enrollments/{enrollment_id}/cancel"),
        ("command", "POST", "/courses/{course_id}/archive")}
APIS = ("query", "assistant", "command")  # reads first: they see the world as it was made


def operations() -> list[tuple[str, str, str]]:
    settings = Settings(chaos_enabled=True)
    found = []
    apps = {"command": command_app, "query": query_app, "assistant": assistant_app}
    for api in APIS:
        for path, methods in apps[api](settings).openapi()["paths"].items():
            for method in methods:
                found.append((api, method.upper(), path))
    return sorted(found, key=lambda key: key in LAST)  # stable: otherwise as listed


def allowed(rule: str, role: str, owner: bool | None) -> bool:
    if rule == "public":
        return True
    if role == "deactivated":
        return False
    if role == "anonymous":
        return rule == "optional"
    if rule == "self-only":
        return bool(owner)
    if role == "admin" or rule in ("optional", "user"):
        return True
    if rule == "instructor":
        return role == "instructor"
    if rule == "instructor-self":
        return role == "instructor" and bool(owner)
    if rule in OWNED:
        return bool(owner)
    return False  # admin-only


def owner_variants(rule: str, role: str) -> list[bool | None]:
    if rule not in OWNED or role in ("anonymous", "deactivated"):
        return [None]
    can_own = {"course": ("instructor",), "enrollment": ("student",),
               "learner": ("instructor", "student")}.get(
        rule, ("student", "instructor", "admin"))
    return [True, False] if role in can_own else [False]


@dataclass
class World:
    command_api: str
    admin: Login
    instructor: Login  # owns the course
    other_instructor: Login
    student: Login  # owns the enrollment (active)
    other_student: Login
    deactivated: Login
    course_id: str
    module_id: str
    lesson_id: str
    enrollment_id: str

    def actor(self, role: str, owner: bool | None, rule: str) -> Login | None:
        if role == "anonymous":
            return None
        if role == "deactivated":
            return self.deactivated
        if role == "admin":
            return self.admin
        if role == "instructor":
            mine = owner or rule not in ("course", "learner")
            return self.instructor if mine else self.other_instructor
        mine = owner or rule not in ("enrollment", "learner")
        return self.student if mine else self.other_student

    def fresh(self, role: str) -> Login:
        with httpx.Client(base_url=self.command_api, timeout=30) as http:
            return account(http, self.command_api, role)


@pytest.fixture(scope="session")
def matrix_apis(stack: Settings, server_logs: Path) -> Iterator[dict[str, str]]:
    with (serve("command-api", stack, server_logs, env=SERVERS) as command,
          serve("query-api", stack, server_logs, env=SERVERS) as query,
          serve("assistant-api", stack, server_logs, env=SERVERS,
                start_timeout=240) as assistant):
        yield {"command": command, "query": query, "assistant": assistant}


@pytest.fixture(scope="session")
def world(matrix_apis: dict[str, str], stack: Settings) -> Iterator[World]:
    command_api = matrix_apis["command"]
    start = webhooks.store_head(stack)
    admin = operator_admin(command_api)
    with httpx.Client(base_url=command_api, timeout=30) as http:
        people = {name: account(http, command_api, role) for name, role in (
            ("instructor", "instructor"), ("other_instructor", "instructor"),
            ("student", "student"), ("other_student", "student"),
            ("deactivated", "student"))}
        a = people["instructor"]
        course = http.post("/courses", json={"title": "RBAC course"}, headers=a.headers).json()
        module = http.post(f"/courses/{course['course_id']}/modules", json={"title": "M"},
                           headers=a.headers).json()
        lesson = http.post(
            f"/courses/{course['course_id']}/modules/{module['module_id']}/lessons",
            json={"title": "L", "content": "x"}, headers=a.headers).json()
        published = http.post(f"/courses/{course['course_id']}/publish", headers=a.headers)
        assert published.status_code == 202, published.text
        enrolled = http.post(f"/courses/{course['course_id']}/enroll",
                             headers=people["student"].headers)
        assert enrolled.status_code == 202, enrolled.text
        enrollment_id = enrolled.json()["enrollment_id"]
        active = http.post(f"/enrollments/{enrollment_id}/activate", headers=admin.headers)
        assert active.status_code == 200, active.text
        off = http.post(f"/users/{people['deactivated'].user_id}/deactivate", json={},
                        headers=admin.headers)
        assert off.status_code == 200, off.text
    ReadModels(stack).catch_up()
    yield World(command_api, admin, people["instructor"], people["other_instructor"],
                people["student"], people["other_student"], people["deactivated"],
                course["course_id"], module["module_id"], lesson["lesson_id"],
                enrollment_id)
    webhooks.remove_registered_since(stack, command_api, start)  # the cells' POST /webhooks


def request_for(world: World, method: str, path: str, actor: Login | None,
                owner: bool | None, role: str) -> tuple[str, dict[str, Any]]:
    """The concrete request of one cell: real ids in the path, a valid body."""
    self_id = actor.user_id if actor else world.student.user_id
    target = self_id if owner else None
    ids: dict[str, Callable[[], Any]] = {
        "course_id": lambda: world.course_id, "module_id": lambda: world.module_id,
        "lesson_id": lambda: world.lesson_id, "enrollment_id": lambda: world.enrollment_id,
        "quiz_id": uuid4, "asset_id": uuid4, "upload_id": uuid4, "workflow_id": uuid4,
        "webhook_id": uuid4, "certificate_id": uuid4, "draft_id": uuid4,
        "user_id": lambda: target or world.fresh("student").user_id,
        "student_id": lambda: target or world.other_student.user_id,
        "instructor_id": lambda: target or world.other_instructor.user_id,
        "purpose": lambda: "marketing", "dependency": lambda: "clickhouse",
        "from_version": lambda: 1, "to_version": lambda: 1,
    }
    if method == "DELETE" and "{module_id}" in path:  # removing: an id that is not there
        ids["module_id"] = uuid4
    if method == "DELETE" and "{lesson_id}" in path:
        ids["lesson_id"] = uuid4
    concrete = path
    for name, make in ids.items():
        if "{" + name + "}" in concrete:
            concrete = concrete.replace("{" + name + "}", str(make()))
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/auth/token"): {"data": {"grant_type": "password",
                                           "username": world.other_student.email,
                                           "password": world.other_student.password}},
        ("POST", "/auth/revoke"): {"data": {"token": "never-issued"}},
        ("POST", "/auth/dev-token"): {"json": {"user_id": str(world.other_student.user_id)}},
        ("POST", "/users"): {"json": {"display_name": "New", "email": new_email(),
                                      "password": new_password()}},
        ("PUT", "/users/{user_id}/role"): {"json": {"role": role if owner else "student"}},
        ("POST", "/users/{user_id}/deactivate"): {"json": {"reason": "matrix"}},
        ("PUT", "/users/me/password"): {"json": {
            "current_password": actor.password if actor else "x" * 12,
            "new_password": actor.password[::-1] if actor else "y" * 12}},
        ("POST", "/courses"): {"json": {"title": "RBAC"}},
        ("PUT", "/courses/{course_id}/details"): {"json": {"title": "RBAC"}},
        ("PUT", "/courses/{course_id}/capacity"): {"json": {"capacity": 50}},
        ("PUT", "/courses/{course_id}/prerequisites"): {"json": {"prerequisites": []}},
        ("POST", "/courses/{course_id}/modules"): {"json": {"title": "M2"}},
        ("PUT", "/courses/{course_id}/modules/{module_id}"): {"json": {"title": "M"}},
        ("PUT", "/courses/{course_id}/module-order"): {
            "json": {"module_ids": [world.module_id]}},
        ("POST", "/courses/{course_id}/modules/{module_id}/lessons"): {
            "json": {"title": "L2", "content": "y"}},
        ("PUT", "/courses/{course_id}/lessons/{lesson_id}"): {
            "json": {"title": "L", "content": "z"}},
        ("PUT", "/courses/{course_id}/lessons/{lesson_id}/place"): {
            "json": {"module_id": world.module_id, "index": 0}},
        ("PUT", "/courses/{course_id}/lessons/{lesson_id}/assets"): {"json": {"assets": []}},
        ("POST", "/courses/{course_id}/quizzes"): {
            "json": choice_quiz(1, lesson_id=world.lesson_id)},
        ("PUT", "/courses/{course_id}/quizzes/{quiz_id}"): {
            "json": choice_quiz(1, lesson_id=world.lesson_id)},
        ("PUT", "/courses/{course_id}/quiz-rules"): {
            "json": {"score_policy": "best", "require_passing_quizzes": False}},
        ("POST", "/enrollments/{enrollment_id}/quizzes/{quiz_id}/attempts"): {
            "json": {"answers": []}},
        ("POST", "/enrollments/{enrollment_id}/cancel"): {"json": {"reason": ""}},
        ("POST", "/workflows/{workflow_id}/cancel"): {"json": {"reason": "matrix"}},
        ("POST", "/unsubscribe"): {"params": {"token": "not-a-signed-link"}},
        ("GET", "/unsubscribe"): {"params": {"token": "not-a-signed-link"}},
        ("POST", "/users/{user_id}/notification-preferences"): {
            "json": {"unsubscribe": ["reminder"]}},
        # Loopback only: a delivery, if one were made, goes nowhere.
        ("POST", "/courses/{course_id}/lessons/{lesson_id}/assets"): {
            "files": {"file": ("notes.txt", b"Notes of the lesson.", "text/plain")}},
        ("PUT", "/courses/{course_id}/lessons/{lesson_id}/assets/{asset_id}"): {
            "files": {"file": ("notes.txt", b"Revised notes.", "text/plain")}},
        ("POST", "/courses/{course_id}/lessons/{lesson_id}/asset-uploads"): {"json": {
            "name": "notes.txt", "mime_type": "text/plain", "size_bytes": 5,
            "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}},
        ("POST", CONFIRM_UPLOAD): {"json": {"asset_id": str(uuid4())}},
        ("POST", "/webhooks"): {"json": {"url": "http://127.0.0.1:9/hook",
                                         "templates": ["welcome"]}},
        ("POST", "/users/{user_id}/consents"): {"json": {"purpose": "marketing"}},
        ("PUT", "/courses/{course_id}/start"): {"json": {"starts_at": "2031-01-06T09:00:00Z"}},
        ("POST", "/users/{user_id}/erasure"): {"json": {"reason": "matrix"}},
        ("PUT", "/admin/chaos/{dependency}"): {"json": {"delay_ms": 0, "error_rate": 0}},
        ("GET", "/courses/{course_id}/search"): {"params": {"q": "lesson"}},
        ("GET", "/search"): {"params": {"q": "lesson"}},
        ("POST", "/courses/{course_id}/lessons/{lesson_id}/enhancements"): {
            "json": {"objectives": 1, "questions": 1}, "headers": {"Accept": "application/json"}},
        ("PUT", "/enhancements/{draft_id}"): {"json": {"summary": "s", "questions": [{}]}},
        ("POST", "/courses/{course_id}/questions"): {
            "json": {"question": "What is this lesson about?"},
            "headers": {"Accept": "application/json"}},
    }
    return concrete, bodies.get((method, path), {})


def test_every_endpoint_has_a_policy() -> None:
    found = set(operations())
    assert found == set(POLICY), {"without a policy": found - set(POLICY),
                                  "gone": set(POLICY) - found}


def test_the_matrix(world: World, matrix_apis: dict[str, str]) -> None:
    wrong: list[str] = []
    server_errors: list[str] = []
    cells = 0
    for api, method, path in operations():
        rule = POLICY[(api, method, path)]
        for role in ROLES:
            for owner in owner_variants(rule, role):
                actor = world.actor(role, owner, rule)
                if (api, method, path) in FRESH_SELF and actor is not None and role in (
                        "student", "instructor", "admin") and owner is not False:
                    actor = world.fresh(role)  # itself, without spoiling the world
                url, body = request_for(world, method, path, actor, owner, role)
                headers = {**(actor.headers if actor else {}), **body.pop("headers", {})}
                answer = httpx.request(method, matrix_apis[api] + url, headers=headers,
                                       timeout=180, **body)  # a loaded machine
                cells += 1
                expected = allowed(rule, role, owner)
                refused = answer.status_code in (401, 403)
                cell = (f"{api} {method} {path} as {role} (owner={owner}): "
                        f"{answer.status_code} {answer.text[:160]}")
                if answer.status_code >= 500:
                    server_errors.append(cell)
                if refused == expected:
                    wrong.append(f"{cell}, expected {'allowed' if expected else 'refused'}")
                if refused and actor is None and answer.status_code != 401:
                    wrong.append(f"{cell}, expected 401 without an identity")
    endpoints = len(POLICY)
    print(f"\nRBAC matrix: {endpoints} endpoints × {len(ROLES)} roles × owner/not-owner "
          f"where ownership applies = {cells} cells")
    assert not wrong, "\n".join(wrong)
    assert not server_errors, "\n".join(server_errors)


def test_every_api_has_the_same_http_hygiene(matrix_apis: dict[str, str],
                                             settings: Settings) -> None:
    """Security headers on every answer, and a body over the limit refused (413) before it
    is read, on the assistant API as on the two platform APIs."""
    too_big = b"x" * (settings.max_request_bytes + 1)
    for api, base in matrix_apis.items():
        health = httpx.get(f"{base}/health", timeout=30)
        assert health.headers["x-content-type-options"] == "nosniff", api
        assert health.headers["x-frame-options"] == "DENY", api
        refused = httpx.post(f"{base}/courses/{uuid4()}/questions" if api == "assistant"
                             else f"{base}/courses", content=too_big,
                             headers={"content-type": "application/json"}, timeout=30)
        assert refused.status_code == 413, (api, refused.status_code)
        assert refused.json()["error"]["code"] == "request.too_large", api
