"""Thread: one student's conversation with the assistant about one course, as facts.

`ai.thread_started` opens it; each question is `ai.requested` and its outcome
`ai.completed` (answer, provider, latency, tokens, grounding, refusal or filter reason).
Follow-up questions read the earlier turns from here, so a conversation is rebuilt from the
event store like everything else. Texts are recorded after redaction (no personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict, Forbidden

MAX_TURNS = 50


@dataclass(frozen=True)
class Turn:
    question_id: UUID
    question: str
    answer: str | None = None  # None until completed


class Thread(AggregateRoot):
    type_name = "ai"

    @event("ThreadStarted")
    def __init__(self, id: UUID, course_id: UUID, owner_id: UUID) -> None:  # noqa: A002
        self.course_id = course_id
        self.owner_id = owner_id
        self.turns: tuple[Turn, ...] = ()

    def check_participant(self, user_id: UUID, course_id: UUID, is_admin: bool) -> None:
        if course_id != self.course_id:
            raise Forbidden("the thread belongs to another course", "ai.thread_other_course")
        if user_id != self.owner_id and not is_admin:
            raise Forbidden("the thread belongs to someone else", "ai.thread_not_owner")

    def request(self, question_id: UUID, module_id: str, question: str) -> None:
        if any(t.question_id == question_id for t in self.turns):
            return  # the same question recorded again (a retried request)
        if len(self.turns) >= MAX_TURNS:
            raise Conflict(f"a thread holds at most {MAX_TURNS} questions; start a new one",
                           "ai.thread_full")
        self._request(question_id=question_id, course_id=self.course_id, module_id=module_id,
                      question=question, turn=len(self.turns) + 1)

    @event("Requested")
    def _request(self, question_id: UUID, course_id: UUID, module_id: str, question: str,
                 turn: int) -> None:
        self.turns = (*self.turns, Turn(question_id, question))

    def complete(self, question_id: UUID, outcome: Outcome) -> None:
        turn = next((t for t in self.turns if t.question_id == question_id), None)
        if turn is None:
            raise Conflict("no such question in the thread", "ai.unknown_question")
        if turn.answer is not None:
            return
        self._complete(question_id=question_id, course_id=self.course_id,
                       provider=outcome.provider, answer=outcome.answer,
                       citations=list(outcome.citations), latency_ms=outcome.latency_ms,
                       first_token_ms=outcome.first_token_ms,
                       prompt_tokens=outcome.prompt_tokens,
                       completion_tokens=outcome.completion_tokens,
                       grounding_score=outcome.grounding_score,
                       refusal_reason=outcome.refusal_reason,
                       filter_reason=outcome.filter_reason, cached=int(outcome.cached))

    @event("Completed")
    def _complete(self, question_id: UUID, course_id: UUID, provider: str, answer: str,
                  citations: list[UUID], latency_ms: float, first_token_ms: float,
                  prompt_tokens: int, completion_tokens: int, grounding_score: float,
                  refusal_reason: str, filter_reason: str, cached: int) -> None:
        self.turns = tuple(Turn(t.question_id, t.question, answer)
                           if t.question_id == question_id else t for t in self.turns)

    def history(self, limit: int = 3) -> list[Turn]:
        """The last answered turns, oldest first (what a follow-up question builds on)."""
        return [t for t in self.turns if t.answer is not None][-limit:]


@dataclass(frozen=True)
class Outcome:
    """What `ai.completed` records about one answer."""

    provider: str
    answer: str
    citations: tuple[UUID, ...]
    latency_ms: float
    first_token_ms: float
    prompt_tokens: int
    completion_tokens: int
    grounding_score: float
    refusal_reason: str = ""  # empty: answered
    filter_reason: str = ""  # empty: nothing filtered
    cached: bool = False
