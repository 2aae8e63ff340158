"""The shipped evaluation set: a realistic course, questions with the lesson that answers
them, and questions the course cannot answer (`lesson` is null)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from uuid import UUID, uuid5

HERE = Path(__file__).with_name("git_course.json")
NAMESPACE = UUID("5d0c8f4e-3a51-5b3e-9c61-7f2a9e1d0b44")


@dataclass(frozen=True)
class EvalLesson:
    key: str
    title: str
    content: str
    module: str


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    lesson: str | None  # the key of the lesson that answers it; None: the course cannot

    @property
    def answerable(self) -> bool:
        return self.lesson is not None


@dataclass(frozen=True)
class EvalSet:
    title: str
    description: str
    lessons: tuple[EvalLesson, ...]
    questions: tuple[EvalQuestion, ...]

    def lesson_id(self, course_id: UUID, key: str) -> UUID:
        """Deterministic lesson ids per course, so results can be mapped back to keys."""
        return uuid5(NAMESPACE, f"{course_id}:{key}")

    def module_titles(self) -> list[str]:
        return list(dict.fromkeys(lesson.module for lesson in self.lessons))


@cache
def load(path: Path = HERE) -> EvalSet:
    raw = json.loads(path.read_text())
    lessons = tuple(EvalLesson(item["key"], item["title"], item["content"], module["title"])
                    for module in raw["modules"] for item in module["lessons"])
    questions = tuple(EvalQuestion(item["q"], item["lesson"]) for item in raw["questions"])
    keys = {lesson.key for lesson in lessons}
    unknown = {q.lesson for q in questions if q.answerable and q.lesson not in keys}
    if unknown:
        raise ValueError(f"questions cite unknown lessons: {sorted(unknown)}")
    return EvalSet(raw["title"], raw["description"], lessons, questions)
