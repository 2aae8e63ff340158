"""What the pipeline tells its caller, as a stream of events (the SSE events, in order):
`meta` once, `token` pieces, `citations` once, `final` once (or `error`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from assistant.domain.context import Citation

REFUSAL_WEAK = "weak_retrieval"
REFUSAL_NO_CONTENT = "no_ready_content"
REFUSAL_UNGROUNDED = "ungrounded"
REFUSAL_PROVIDERS = "providers_failed"


@dataclass(frozen=True)
class Suggestion:
    lesson_id: UUID
    title: str


@dataclass
class Final:
    thread_id: UUID
    question_id: UUID
    answer: str
    provider: str
    refused: bool
    refusal_reason: str
    grounding_score: float
    unsupported_removed: int  # sentences dropped because no cited chunk supports them
    checked_sentences: int  # sentences generated and checked against the cited chunks
    filter_reason: str
    input_reasons: list[str]
    cached: bool
    prompt_tokens: int
    completion_tokens: int
    first_token_ms: float
    latency_ms: float
    best_similarity: float | None
    suggestions: list[Suggestion] = field(default_factory=list)
    attempts: list[dict[str, str]] = field(default_factory=list)
    stages_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["thread_id"], out["question_id"] = str(self.thread_id), str(self.question_id)
        out["suggestions"] = [{"lesson_id": str(s.lesson_id), "title": s.title}
                              for s in self.suggestions]
        return out


def citation_dict(citation: Citation) -> dict[str, Any]:
    p = citation.passage
    return {"number": citation.number, "chunk_id": str(p.chunk_id),
            "lesson_id": str(p.lesson_id), "module_id": str(p.module_id),
            "lesson_title": p.lesson_title, "chunk_index": p.chunk_index,
            "similarity": round(p.similarity, 4), "text": citation.text}


def refusal_text(reason: str, suggestions: list[Suggestion]) -> str:
    if reason == REFUSAL_NO_CONTENT:
        return ("This course's content is not ready for questions yet. Please try again "
                "once the course has been processed.")
    if reason == REFUSAL_PROVIDERS:
        return "The assistant cannot answer right now. Please try again in a moment."
    text = "I could not find this in the course material, so I will not guess."
    if suggestions:
        text += " The nearest lessons are: " + "; ".join(f'"{s.title}"' for s in suggestions)
        text += "."
    return text
