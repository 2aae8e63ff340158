"""Study-material drafts for the course's instructor and admins (docs/adr/0042): what the
assistant generated from each lesson, with answers and citations, its status, and the quiz
an acceptance made. Students are refused (the answers are in here)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from psycopg import AsyncConnection
from pydantic import BaseModel, Field

from commands.domain.errors import Forbidden, NotFound
from identity.actor import Actor
from query_api import access
from query_api import positions as p
from query_api.deps import CurrentUser, Reader, reading
from query_api.models import read_responses
from query_api.reads import enhancements as reads

router = APIRouter(tags=["enhancements"])

DraftsReader = Annotated[Reader, Depends(reading(p.ENHANCEMENT_DRAFTS, p.COURSE_DETAIL))]


class Objective(BaseModel):
    text: str
    passages: list[int] = Field(description="The lesson's passages (chunk index + 1).")


class DraftQuestion(BaseModel):
    question_id: str
    prompt: str
    options: list[str]
    correct: int = Field(description="Index of the correct option.")
    explanation: str
    lesson_id: UUID = Field(description="The source lesson.")
    chunk_index: int = Field(description="The cited chunk of the lesson.")
    quote: str = Field(description="The lesson's sentence that carries the answer.")


class DraftView(BaseModel):
    draft_id: UUID
    course_id: UUID
    lesson_id: UUID
    lesson_title: str
    status: Literal["DRAFT", "STALE", "ACCEPTED", "DISCARDED"]
    source_hash: str = Field(description="SHA-256 of the lesson title and text it was made "
                             "from.")
    provider: str
    summary: str
    summary_passages: list[int]
    objectives: list[Objective]
    questions: list[DraftQuestion]
    generations: int
    last_reason: str = Field(description="requested, lesson_changed, edited, or why it was "
                             "discarded.")
    stale_hash: str | None = Field(description="The lesson text's hash that outdated it "
                                   "(STALE until regenerated).")
    quiz_id: UUID | None = Field(description="The quiz an acceptance made (students take it "
                                 "through the command API).")
    accepted_hash: str | None
    quiz_outdated: bool = Field(description="Accepted once, and the content changed since: "
                                "accept again to revise the quiz.")
    created_at: datetime
    updated_at: datetime


class CourseDrafts(BaseModel):
    course_id: UUID
    drafts: list[DraftView]


def _view(row: dict[str, Any]) -> DraftView:
    outdated = row["quiz_id"] is not None and row["status"] != "ACCEPTED"
    return DraftView(**row, quiz_outdated=outdated)


async def _check(conn: AsyncConnection, user: Actor, course_id: UUID) -> None:
    instructor = await reads.instructor_of(conn, course_id)
    if instructor is None:
        raise NotFound("no such course", "course.not_found")
    if not access.may_author(user, instructor):
        raise Forbidden("only the course's instructor and admins read its study-material "
                        "drafts", "enhancement.not_instructor")


@router.get("/courses/{course_id}/enhancements", responses=read_responses(401, 403, 404))
async def course_drafts(course_id: UUID, user: CurrentUser, read: DraftsReader,
                        lesson_id: UUID | None = None,
                        status: Annotated[Literal["DRAFT", "STALE", "ACCEPTED", "DISCARDED"]
                                          | None, Query()] = None) -> CourseDrafts:
    """The course's study-material drafts (one per lesson), with answers and citations."""
    async with read() as snap:
        await _check(snap.conn, user, course_id)
        rows = await reads.drafts(snap.conn, course_id, lesson_id, status)
    return CourseDrafts(course_id=course_id, drafts=[_view(r) for r in rows])


@router.get("/enhancements/{draft_id}", responses=read_responses(401, 403, 404))
async def one_draft(draft_id: UUID, user: CurrentUser, read: DraftsReader) -> DraftView:
    """One draft (its course's instructor and admins)."""
    async with read() as snap:
        row = await reads.draft(snap.conn, draft_id)
        if row is None:
            raise NotFound("no such draft", "enhancement.not_found")
        await _check(snap.conn, user, row["course_id"])
    return _view(row)
