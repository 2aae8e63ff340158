"""Study material for instructors (docs/adr/0042): generated from a lesson and streamed as
server-sent events (`meta`, `item`…, `rejected`…, then `final` or `error`) or one JSON object
with Accept: application/json; kept as the lesson's draft, edited, accepted (its questions
become a quiz of the lesson) or discarded by command. Drafts are read from the query API
(`GET /courses/{course_id}/enhancements`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from assistant.api.auth import CurrentActor
from assistant.api.errors import body as error_body
from assistant.api.errors import status_of
from assistant.domain.draft import quiz_id
from assistant.enhancements import Event, generate
from assistant.enhancements import Request as Generate
from assistant.messages import AcceptDraft, DiscardDraft, EditDraft
from assistant.service import Assistant
from commands.domain.errors import SmartCourseError

router = APIRouter(tags=["enhancements"])


class GenerateBody(BaseModel):
    objectives: int = Field(4, ge=1, le=8, description="Learning objectives to write.")
    questions: int = Field(5, ge=1, le=10, description="Multiple-choice questions to write.")


class ObjectiveOut(BaseModel):
    text: str
    passages: list[int] = Field(description="The lesson's passages (chunk index + 1).")


class QuestionOut(BaseModel):
    question_id: str
    prompt: str
    options: list[str]
    correct: int = Field(description="Index of the correct option.")
    explanation: str
    lesson_id: UUID = Field(description="The source lesson.")
    chunk_index: int = Field(description="The cited chunk of the lesson.")
    quote: str = Field(description="The lesson's sentence that carries the answer.")


class RejectedOut(BaseModel):
    line: int
    reason: str


class GeneratedOut(BaseModel):
    draft_id: UUID
    course_id: UUID
    lesson_id: UUID
    lesson_title: str
    source_hash: str = Field(description="SHA-256 of the lesson title and text it was made "
                             "from: the draft goes stale when the lesson moves on.")
    passages: int
    position: int = Field(description="The draft's write: send it as X-Consistency-Token "
                          "to the query API to read the draft.")
    changed: bool = Field(description="False when the same material was the draft already.")
    status: str = Field(description="DRAFT")
    provider: str
    summary: str
    summary_passages: list[int]
    objectives: list[ObjectiveOut]
    questions: list[QuestionOut]
    rejected: list[RejectedOut] = Field(description="Provider lines that failed the checks.")
    latency_ms: float


class ContentBody(BaseModel):
    summary: str = Field(min_length=1, max_length=2000)
    summary_passages: list[int] = Field(default_factory=lambda: [1], max_length=50)
    objectives: list[ObjectiveOut] = Field(default_factory=list, max_length=8)
    questions: list[dict[str, Any]] = Field(min_length=1, max_length=10, description=(
        "Questions as a draft holds them: prompt, options, correct, explanation, "
        "chunk_index, quote (checked against the lesson as generated ones are)."))


class AcceptBody(BaseModel):
    title: str = Field("Check your understanding", min_length=1, max_length=200)
    pass_mark: float = Field(60.0, ge=0, le=100)
    max_attempts: int = Field(0, ge=0, le=100, description="0: unlimited.")


class DiscardBody(BaseModel):
    reason: str = Field("discarded by the instructor", min_length=1, max_length=500)


class DraftWritten(BaseModel):
    draft_id: UUID
    position: int
    changed: bool
    status: str = Field(description="DRAFT, STALE, ACCEPTED or DISCARDED")
    quiz_id: UUID | None = Field(None, description="The quiz an accepted draft became.")


def _errors(*rows: tuple[int, str, str]) -> dict[int | str, dict[str, Any]]:
    return {s: {"description": d, "content": {"application/json": {"example": {
        "error": {"code": c, "message": "…"}}}}} for s, d, c in rows}


COMMON = ((401, "No valid bearer token", "auth.unauthorized"),
          (403, "Not the course's instructor nor an admin", "enhancement.not_instructor"),
          (422, "Invalid body", "request.invalid"))
GENERATE_ERRORS = _errors(
    *COMMON, (404, "No such course or lesson", "course.lesson_not_found"),
    (422, "Invalid body, or a lesson with too little text (fewer than 20 words)",
     "enhancement.lesson_too_short"),
    (409, "The lesson changed while generating (JSON only; SSE: an `error` event)",
     "enhancement.lesson_changed"),
    (502, "The provider's output held no usable summary or question (JSON only)",
     "enhancement.unusable_output"),
    (503, "No provider could answer (JSON only)", "enhancement.providers_failed"))
GENERATE_ERRORS[200] = {
    "description": "`text/event-stream` by default: `meta` (draft id, lesson, source hash), "
    "`item` per checked summary/objective/question, `rejected` per line that failed the "
    "checks, then `final` (this object's fields) or `error` ({code, message}). With "
    "Accept: application/json, this object.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}
DRAFT_ERRORS = _errors(*COMMON, (404, "No such draft", "enhancement.not_found"),
                       (409, "The draft is stale or discarded", "enhancement.stale"))


@router.post("/courses/{course_id}/lessons/{lesson_id}/enhancements",
             response_model=GeneratedOut, responses=GENERATE_ERRORS)
async def generate_material(course_id: UUID, lesson_id: UUID, actor: CurrentActor,
                            request: Request, body: GenerateBody | None = None,
                            accept: Annotated[str, Header()] = "text/event-stream",
                            x_correlation_id: Annotated[UUID | None, Header()] = None) -> Any:
    """Generate a summary, learning objectives and multiple-choice questions (each citing
    the lesson passage it comes from) and keep them as the lesson's draft. The course's
    instructor and admins only."""
    assistant: Assistant = request.app.state.assistant
    options = body or GenerateBody()
    events = generate(assistant.write.bus, assistant.chain, actor,
                      Generate(course_id, lesson_id, options.objectives, options.questions),
                      x_correlation_id or uuid4())
    first = await anext(events)  # access and the lesson: errors answer as 4xx
    if "application/json" in accept and "text/event-stream" not in accept:
        out: dict[str, Any] = dict(first[1])
        async for name, data in events:  # an error here answers with its status
            if name == "final":
                out.update(data)
        return JSONResponse(out)

    async def stream() -> AsyncIterator[dict[str, str]]:
        yield _sse(first)
        try:
            async for event in events:
                yield _sse(event)
        except SmartCourseError as error:
            yield _sse(("error", {**error_body(error.code, error.message)["error"],
                                  "status": status_of(error)}))

    return EventSourceResponse(stream(), ping=15)


def _sse(event: Event) -> dict[str, str]:
    name, data = event
    return {"event": name, "data": json.dumps(data)}


async def _written(request: Request, command: Any, actor: Any,
                   correlation: UUID | None) -> DraftWritten:
    assistant: Assistant = request.app.state.assistant
    result = await assistant.write.bus.execute(command, actor,
                                               correlation_id=correlation or uuid4())
    return DraftWritten(draft_id=result.aggregate_id, position=result.position,
                        changed=result.changed, status=result.state or "",
                        quiz_id=quiz_id(result.aggregate_id)
                        if result.state == "ACCEPTED" else None)


@router.put("/enhancements/{draft_id}", response_model=DraftWritten, responses=DRAFT_ERRORS)
async def edit_draft(draft_id: UUID, body: ContentBody, actor: CurrentActor, request: Request,
                     x_correlation_id: Annotated[UUID | None, Header()] = None) -> DraftWritten:
    """Replace the draft's content with the instructor's edit (checked as generated content
    is: each question quotes its passage of the lesson). An accepted draft edited is a draft
    again, to be accepted again."""
    content = {"summary": body.summary, "summary_passages": body.summary_passages,
               "objectives": [o.model_dump() for o in body.objectives],
               "questions": body.questions}
    return await _written(request, EditDraft(draft_id, content), actor, x_correlation_id)


@router.post("/enhancements/{draft_id}/accept", response_model=DraftWritten,
             responses=DRAFT_ERRORS)
async def accept_draft(draft_id: UUID, actor: CurrentActor, request: Request,
                       body: AcceptBody | None = None,
                       x_correlation_id: Annotated[UUID | None, Header()] = None
                       ) -> DraftWritten:
    """Accept the draft: its questions become a quiz of the lesson that students take and
    the server grades (accepting again revises that quiz)."""
    b = body or AcceptBody()
    return await _written(request, AcceptDraft(draft_id, b.title, b.pass_mark, b.max_attempts),
                          actor, x_correlation_id)


@router.post("/enhancements/{draft_id}/discard", response_model=DraftWritten,
             responses=DRAFT_ERRORS)
async def discard_draft(draft_id: UUID, actor: CurrentActor, request: Request,
                        body: DiscardBody | None = None,
                        x_correlation_id: Annotated[UUID | None, Header()] = None
                        ) -> DraftWritten:
    """Discard the draft (a lesson edit no longer regenerates it; generating again does)."""
    reason = (body or DiscardBody()).reason
    return await _written(request, DiscardDraft(draft_id, reason), actor, x_correlation_id)
