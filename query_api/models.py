"""Response bodies of the query API: the public shape, kept apart from the storage rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

CourseStatus = Literal["DRAFT", "PUBLISHED", "READY", "ARCHIVED"]
EnrollmentState = Literal["PENDING", "ACTIVE", "COMPLETED", "CANCELLED"]


class CourseSummary(BaseModel):
    """A course as the catalog lists it."""

    course_id: UUID
    instructor_id: UUID
    title: str
    description: str
    tags: list[str]
    status: CourseStatus
    capacity: int
    seats_taken: int
    seats_available: int
    content_version: int
    published_at: datetime | None
    updated_at: datetime


class Lesson(BaseModel):
    lesson_id: UUID
    title: str
    position: int = Field(description="order within its module, from 0")
    content_length: int
    assets: list[dict[str, Any]]


class Module(BaseModel):
    module_id: UUID
    title: str
    position: int = Field(description="order within the course, from 0")
    lessons: list[Lesson]


class CourseDetail(BaseModel):
    course_id: UUID
    instructor_id: UUID
    title: str
    description: str
    tags: list[str]
    status: CourseStatus
    content_version: int
    ready_version: int
    capacity: int
    seats_available: int | None = Field(description="null until the catalog has the course")
    modules: list[Module]
    updated_at: datetime
    score_policy: Literal["best", "last"] = Field(
        default="best", description="which quiz attempt counts")
    require_passing_quizzes: bool = Field(
        default=False, description="completion needs every quiz of the course passed")
    starts_at: datetime | None = Field(
        default=None, description="when the course starts (UTC); null: no start date")


class StoredAsset(BaseModel):
    """A file of the lesson kept in the object store; its bytes stream from
    `download_path` (the query API, for the lesson's readers)."""

    asset_id: UUID
    name: str
    mime_type: str
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the bytes, lowercase hex")
    download_path: str


class LessonContent(BaseModel):
    """A lesson as a learner reads it: its text, linked assets and stored files."""

    course_id: UUID
    lesson_id: UUID
    module_id: UUID
    title: str
    content: str
    assets: list[dict[str, Any]]
    files: list[StoredAsset] = Field(default_factory=list,
                                     description="stored assets (uploaded files)")
    quiz_ids: list[UUID] = Field(description="the quizzes attached to this lesson")
    updated_at: datetime


class ContentVersion(BaseModel):
    content_version: int
    published_at: datetime
    lesson_count: int


class LessonChange(BaseModel):
    lesson_id: UUID
    title: str
    change: Literal["added", "removed", "changed"]
    fields: list[Literal["title", "content", "assets", "place"]] = Field(
        description="for a changed lesson: what changed")


class VersionDiff(BaseModel):
    course_id: UUID
    from_version: int
    to_version: int
    lessons: list[LessonChange]


class CourseVersions(BaseModel):
    course_id: UUID
    versions: list[ContentVersion]


class QuizQuestion(BaseModel):
    question_id: str
    kind: Literal["multiple_choice", "multiple_answers", "short_answer"]
    prompt: str
    options: list[str]
    points: float
    correct: list[int] | None = Field(
        default=None, description="indexes of the correct options: the quiz's authors only")
    accepted_answers: list[str] | None = Field(
        default=None, description="accepted short answers: the quiz's authors only")


class QuizView(BaseModel):
    quiz_id: UUID
    title: str
    lesson_id: UUID | None
    module_id: UUID | None
    pass_mark: float = Field(description="percent of the points needed to pass")
    max_attempts: int = Field(description="0: unlimited")
    questions: list[QuizQuestion]
    updated_at: datetime


class CourseQuizzes(BaseModel):
    course_id: UUID
    score_policy: Literal["best", "last"]
    require_passing_quizzes: bool
    quizzes: list[QuizView]


class QuizResult(BaseModel):
    quiz_id: UUID
    score: float | None = Field(description="the score that counts (the course's policy)")
    max_score: float | None
    attempts: int
    passed: bool


class QuizAttempt(BaseModel):
    quiz_id: UUID
    attempt: int
    score: float
    max_score: float
    passed: bool
    answers: list[dict[str, Any]]
    attempted_at: datetime


class EnrollmentQuizzes(BaseModel):
    enrollment_id: UUID
    results: list[QuizResult]
    attempts: list[QuizAttempt]


class InstructorCourse(BaseModel):
    course_id: UUID
    title: str
    status: CourseStatus
    capacity: int
    enrollment_count: int = Field(description="enrollments created and not cancelled")
    active_count: int
    completed_count: int
    cancelled_count: int
    completion_rate: float = Field(description="completed / enrollments ever created")
    updated_at: datetime


class NextLesson(BaseModel):
    lesson_id: UUID
    title: str | None


class Enrollment(BaseModel):
    enrollment_id: UUID
    student_id: UUID
    course_id: UUID
    course_title: str | None
    state: EnrollmentState
    completed_lessons: list[UUID]
    completed_count: int
    total_lessons: int
    progress_percent: float
    next_lesson: NextLesson | None
    enrolled_at: datetime
    completed_at: datetime | None
    updated_at: datetime


class RosterEntry(BaseModel):
    enrollment_id: UUID
    student_id: UUID
    state: EnrollmentState
    completed_count: int
    total_lessons: int
    progress_percent: float
    quiz_average: float | None
    enrolled_at: datetime
    completed_at: datetime | None
    updated_at: datetime


class ProjectionStatus(BaseModel):
    name: str
    state: str = Field(description="live, or rebuilding while a replay builds a new version")
    live_version: int
    rebuild_version: int | None
    rebuild_position: int | None
    position: int = Field(description="min over the projection's partitions")
    lag_events: int | None = Field(description="relay checkpoint − position; null without relay")
    lag_seconds: float = Field(description="how long the position has stood still while "
                                           "behind; 0 when caught up")


class Projections(BaseModel):
    relay_position: int | None
    projections: list[ProjectionStatus]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="stable and machine-readable, e.g. course.not_found")
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


_MEANING = {
    401: "no valid bearer token",
    403: "the caller may not read this",
    404: "no such resource (or not visible to the caller)",
    422: "invalid input (ids, filters, page size, cursor, consistency token)",
    503: "read_model.not_caught_up: the consistency token was not reached in time "
         "(see Retry-After), or the read database is unavailable",
}


READ_POSITION = {"X-Read-Position": {
    "description": "the global position the answer reflects (min over the read models read)",
    "schema": {"type": "integer"}}}


class AuditEntry(BaseModel):
    """One audited action: who (`actor`), what (`action`, an event type), on what (`subject_*`),
    about whom (`user_id`), when, and the details kept (never personal data)."""

    position: int
    occurred_at: datetime
    actor: str | None
    action: str
    subject_type: str
    subject_id: UUID
    user_id: UUID | None
    correlation_id: UUID
    event_id: UUID
    details: dict[str, Any]


def read_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries of a read: its X-Read-Position header and the errors it can answer."""
    errors = {s: {"model": ErrorBody, "description": _MEANING[s]} for s in (*statuses, 422, 503)}
    return {200: {"headers": READ_POSITION}, **errors}
