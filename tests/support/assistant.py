"""Helpers for the assistant's end-to-end tests: the shipped evaluation course published
through the command API (the supervised worker makes it READY), and an SSE reader."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from assistant.eval.dataset import load
from tests.support.command_client import CommandClient


@dataclass
class PublishedCourse:
    course_id: str
    lessons: dict[str, str]  # eval key -> lesson id
    instructor: CommandClient


def publish_course(writes: str, reads: str, extra: dict[str, str] | None = None,
                   timeout: float = 300) -> PublishedCourse:
    """The evaluation course (plus `extra` lessons: title -> content) until READY."""
    data = load()
    instructor = CommandClient(writes, role="instructor")
    course_id = instructor.create_course(title=data.title)
    modules: dict[str, str] = {}
    lessons: dict[str, str] = {}
    items = [(lesson.module, lesson.key, lesson.title, lesson.content) for lesson in data.lessons]
    items += [("Extra", title, title, content) for title, content in (extra or {}).items()]
    for module, key, title, content in items:
        if module not in modules:
            made = instructor.post(f"/courses/{course_id}/modules", {"title": module})
            assert made.status_code == 201, made.text
            modules[module] = made.json()["module_id"]
        added = instructor.post(f"/courses/{course_id}/modules/{modules[module]}/lessons",
                                {"title": title, "content": content})
        assert added.status_code == 201, added.text
        lessons[key] = added.json()["lesson_id"]
    published = instructor.post(f"/courses/{course_id}/publish")
    assert published.status_code == 202, published.text
    deadline = time.monotonic() + timeout
    while True:
        detail = httpx.get(f"{reads}/courses/{course_id}", headers=instructor.headers,
                           timeout=10)
        if detail.status_code == 200 and detail.json()["status"] == "READY":
            return PublishedCourse(course_id, lessons, instructor)
        if time.monotonic() > deadline:
            raise RuntimeError(f"course {course_id} not READY after {timeout:.0f}s")
        time.sleep(0.5)  # a bounded poll of the publishing workflow


def enrolled_student(writes: str, reads: str, course_id: str,
                     timeout: float = 60) -> CommandClient:
    """A student enrolled in the course, once the enrollment read model shows it."""
    student = CommandClient(writes)
    enrolled = student.post(f"/courses/{course_id}/enroll")
    assert enrolled.status_code in (200, 202), enrolled.text
    token = str(enrolled.json()["position"])
    seen = httpx.get(f"{reads}/students/{student.user_id}/enrollments", timeout=30,
                     headers={**student.headers, "X-Consistency-Token": token})
    assert seen.status_code == 200, seen.text
    return student


def sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) of a server-sent event stream, as they arrive."""
    name, data = "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
