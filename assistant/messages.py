"""The assistant's commands (recorded through the write side's command bus)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from assistant.domain.enhancement import Content
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


@dataclass(frozen=True)
class RecordDraft:
    """Keep what was generated from a lesson as its draft (new, or the draft's next
    generation); refused when the lesson's text is no longer the one it was made from."""

    course_id: UUID
    lesson_id: UUID
    source_hash: str
    lesson_title: str
    provider: str
    content: Content
    reason: str = "requested"  # requested | lesson_changed
    cause_position: int = 0  # the lesson event a regeneration reacts to


@dataclass(frozen=True)
class MarkDraftStale:
    course_id: UUID
    lesson_id: UUID
    lesson_hash: str
    cause_position: int


@dataclass(frozen=True)
class EditDraft:
    draft_id: UUID
    content: dict[str, Any]  # summary, summary_passages, objectives, questions


@dataclass(frozen=True)
class AcceptDraft:
    """Accept the draft: its questions become (or revise) a quiz of its lesson."""

    draft_id: UUID
    title: str
    pass_mark: float
    max_attempts: int


@dataclass(frozen=True)
class DiscardDraft:
    draft_id: UUID
    reason: str
