"""POST /courses/{course_id}/questions: a grounded answer, streamed as server-sent events
(`meta`, `token`…, `citations`, `final`) or as one JSON object with Accept: application/json."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from sse_starlette import EventSourceResponse

from assistant.api.auth import CurrentActor
from assistant.domain.pipeline import Event, Question
from assistant.service import Assistant

router = APIRouter(tags=["assistant"])

QuestionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3,
                                                max_length=1000, pattern=r"^[^\x00]*$")]


class AskBody(BaseModel):
    question: QuestionText
    module_id: UUID | None = Field(None, description="Ask about one module only.")
    thread_id: UUID | None = Field(None, description="Continue a thread (a follow-up "
                                   "question); omitted: a new thread starts.")


class CitationOut(BaseModel):
    number: int
    chunk_id: UUID
    lesson_id: UUID
    module_id: UUID
    lesson_title: str
    chunk_index: int
    similarity: float
    text: str


class AnswerOut(BaseModel):
    thread_id: UUID
    question_id: UUID
    answer: str
    provider: str = Field(description="extractive, local, openai, anthropic, cache, none")
    refused: bool
    refusal_reason: str = Field(description="weak_retrieval, ungrounded, no_ready_content, "
                                "providers_failed; empty when answered")
    grounding_score: float
    unsupported_removed: int
    checked_sentences: int
    filter_reason: str
    input_reasons: list[str]
    cached: bool
    prompt_tokens: int
    completion_tokens: int
    first_token_ms: float
    latency_ms: float
    best_similarity: float | None
    suggestions: list[dict[str, str]]
    attempts: list[dict[str, str]]
    stages_ms: dict[str, float]
    citations: list[CitationOut]


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"description": d, "content": {"application/json": {"example": {
        "error": {"code": c, "message": "…"}}}}}
    for s, d, c in ((401, "No valid bearer token", "auth.unauthorized"),
                    (403, "Not enrolled, not the instructor, not an admin", "ai.not_enrolled"),
                    (404, "No such course", "course.not_found"),
                    (422, "Invalid body", "request.invalid"),
                    (429, "Daily question budget spent", "ai.budget_exhausted"))}
ERRORS[200] = {"description": "The answer: `text/event-stream` by default (events meta, "
               "token, citations, final), or this JSON object with Accept: application/json",
               "content": {"text/event-stream": {"schema": {"type": "string"}}}}


@router.post("/courses/{course_id}/questions", response_model=AnswerOut, responses=ERRORS)
async def ask(course_id: UUID, body: AskBody, actor: CurrentActor, request: Request,
              accept: Annotated[str, Header()] = "text/event-stream",
              x_correlation_id: Annotated[UUID | None, Header()] = None) -> Any:
    """Ask a question about the course. Answers come only from the course's ready content
    the asker may see, with citations; a weak match is refused with the nearest lessons."""
    assistant: Assistant = request.app.state.assistant
    question = Question(body.thread_id or uuid4(), uuid4(), course_id, body.module_id,
                        body.question)
    events = assistant.ask(actor, question, x_correlation_id or uuid4())
    first = await anext(events)  # access, budget and ai.requested: errors answer as 4xx
    if "application/json" in accept and "text/event-stream" not in accept:
        collected = await _collect(first, events)
        return JSONResponse(collected)

    async def stream() -> AsyncIterator[dict[str, str]]:
        yield _sse(first)
        async for event in events:
            yield _sse(event)

    return EventSourceResponse(stream(), ping=15)


def _sse(event: Event) -> dict[str, str]:
    name, data = event
    return {"event": name, "data": json.dumps(data)}


async def _collect(first: Event, events: AsyncIterator[Event]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async for name, data in _chain(first, events):
        if name == "citations":
            out["citations"] = data["citations"]
        elif name == "final":
            out.update(data)
    return out


async def _chain(first: Event, events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    yield first
    async for event in events:
        yield event
