"""The assistant's commands (recorded through the write side's command bus)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from assistant.domain.thread import Outcome


@dataclass(frozen=True)
class AskQuestion:
    """Record a question: opens the thread on its first question."""

    thread_id: UUID
    question_id: UUID
    course_id: UUID
    module_id: str  # "" when the question is about the whole course
    question: str  # redacted


@dataclass(frozen=True)
class RecordAnswer:
    thread_id: UUID
    question_id: UUID
    course_id: UUID
    outcome: Outcome
