"""Quiz bodies for the command API, and answers that get a chosen number right."""

from __future__ import annotations

from typing import Any
from uuid import uuid4


def choice_quiz(questions: int, lesson_id: str | None = None, module_id: str | None = None,
                **fields: Any) -> dict[str, Any]:
    """A quiz of multiple choice questions; the correct option of question n is n % 3."""
    return {"title": "Check your understanding", "lesson_id": lesson_id,
            "module_id": module_id, "questions": [
                {"question_id": str(uuid4()), "kind": "multiple_choice",
                 "prompt": f"Question {n + 1}?", "options": ["a", "b", "c"], "correct": [n % 3]}
                for n in range(questions)], **fields}


def answers_for(quiz: dict[str, Any], right: int) -> dict[str, Any]:
    """Answers to a `choice_quiz` with the first `right` questions correct, the rest wrong."""
    return {"answers": [
        {"question_id": q["question_id"],
         "choices": [q["correct"][0] if n < right else (q["correct"][0] + 1) % 3]}
        for n, q in enumerate(quiz["questions"])]}
