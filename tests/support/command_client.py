"""A small client for the command API, as a test (or a script) would use it: a real account
(registered, then logged in with the OAuth2 password grant), staff roles granted by the
operator's admin."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx

from tests.support.accounts import account


class CommandClient:
    def __init__(self, base_url: str, user_id: UUID | None = None, role: str = "student",
                 client: httpx.Client | None = None, display_name: str = "Test user",
                 email: str | None = None) -> None:
        self.base_url = base_url
        self.role = role
        self.http = client or httpx.Client(base_url=base_url, timeout=30)
        self.login = account(self.http, base_url, role, user_id, display_name, email)
        self.user_id = self.login.user_id
        self.headers = self.login.headers

    def post(self, path: str, json: Any = None, **headers: str) -> httpx.Response:
        return self.http.post(path, json=json, headers={**self.headers, **headers})

    def put(self, path: str, json: Any = None, **headers: str) -> httpx.Response:
        return self.http.put(path, json=json, headers={**self.headers, **headers})

    def create_course(self, title: str = "Course", capacity: int = 100,
                      prerequisites: list[str] | None = None) -> str:
        created = self.post("/courses", {"title": title, "capacity": capacity,
                                         "prerequisites": prerequisites or []})
        assert created.status_code == 201, created.text
        return created.json()["course_id"]

    def add_lessons(self, course_id: str, count: int = 2) -> list[str]:
        module = self.post(f"/courses/{course_id}/modules", {"title": "Module 1"})
        assert module.status_code == 201, module.text
        module_id = module.json()["module_id"]
        lessons = []
        for n in range(count):
            lesson = self.post(f"/courses/{course_id}/modules/{module_id}/lessons",
                               {"title": f"Lesson {n + 1}", "content": f"Text of lesson {n + 1}."})
            assert lesson.status_code == 201, lesson.text
            lessons.append(lesson.json()["lesson_id"])
        return lessons

    def published_course(self, capacity: int = 100, lessons: int = 2,
                         prerequisites: list[str] | None = None) -> tuple[str, list[str]]:
        course_id = self.create_course(capacity=capacity, prerequisites=prerequisites)
        lesson_ids = self.add_lessons(course_id, lessons)
        published = self.post(f"/courses/{course_id}/publish")
        assert published.status_code == 202, published.text
        return course_id, lesson_ids
