"""Request and response bodies of the command API, with the input limits they enforce."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)


def storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL, and lone surrogates are not UTF-8: refuse both."""
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return text


Storable = AfterValidator(storable)


def text(max_length: int, min_length: int = 0, strip: bool = False) -> object:
    return Annotated[str, StringConstraints(strip_whitespace=strip, min_length=min_length,
                                            max_length=max_length), Storable]


Title = text(200, min_length=1, strip=True)
Description = text(5_000)
Tag = text(40, min_length=1, strip=True)
LessonContent = text(100_000)
Email = Annotated[str, StringConstraints(
    strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), Storable]
Reason = text(500)
Role = Literal["student", "instructor", "admin"]
AnswerText = text(500)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Written(BaseModel):
    """Every write answers with a consistency token and the correlation id."""

    position: int = Field(description="event store position of the command's last event; "
                                      "pass it to the query API for read-your-writes")
    correlation_id: UUID


Password = Annotated[str, StringConstraints(max_length=1024), Storable]


class RegisterUserBody(Body):
    user_id: UUID | None = Field(default=None, description="admins only: the account's id")
    display_name: text(100, min_length=1, strip=True)  # type: ignore[valid-type]
    email: Email
    password: Password = Field(description="at least 12 characters (docs/security.md)")
    role: Role = Field(default="student", description="admins only: another role")


class RoleBody(Body):
    role: Role


class DeactivateBody(Body):
    reason: Reason = ""


class ChangePasswordBody(Body):
    current_password: Password
    new_password: Password


class UserWritten(Written):
    user_id: UUID


class CreateCourseBody(Body):
    course_id: UUID | None = None
    title: Title
    description: Description = ""
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    capacity: int = Field(default=100, ge=1, le=100_000)
    prerequisites: list[UUID] = Field(default_factory=list, max_length=20)
    instructor_id: UUID | None = Field(default=None,
                                       description="admins only: create for this instructor")
    starts_at: AwareDatetime | None = Field(
        default=None, description="when the course starts (with a UTC offset); enrolled "
        "students get a \"starting soon\" reminder before it. Omitted: no start date")


class CourseStartBody(Body):
    starts_at: AwareDatetime | None = Field(
        description="when the course starts (with a UTC offset), or null for no start date; "
        "enrolled students' reminders move with it")


def utc_iso(moment: datetime | None) -> str | None:
    """How the write side keeps a moment: ISO 8601 in UTC."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


class CourseWritten(Written):
    course_id: UUID
    status: str


class CourseDetailsBody(Body):
    title: Title
    description: Description = ""
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class CapacityBody(Body):
    capacity: int = Field(ge=1, le=100_000)


class PrerequisitesBody(Body):
    prerequisites: list[UUID] = Field(max_length=20)


class AddModuleBody(Body):
    module_id: UUID | None = None
    title: Title


class ModuleWritten(Written):
    module_id: UUID


class Asset(Body):
    name: text(200, min_length=1)  # type: ignore[valid-type]
    url: text(2_000, min_length=1)  # type: ignore[valid-type]
    mime_type: text(100) = "application/octet-stream"  # type: ignore[valid-type]
    size_bytes: int = Field(default=0, ge=0, le=10**12)


class AddLessonBody(Body):
    lesson_id: UUID | None = None
    title: Title
    content: LessonContent = ""
    assets: list[Asset] = Field(default_factory=list, max_length=20)


class ReviseLessonBody(Body):
    title: Title
    content: LessonContent = ""


class LessonWritten(Written):
    lesson_id: UUID


class RenameModuleBody(Body):
    title: Title


class ModuleOrderBody(Body):
    module_ids: list[UUID] = Field(max_length=500,
                                   description="every module of the course, in the new order")


class MoveLessonBody(Body):
    module_id: UUID = Field(description="the lesson's module (a reorder) or another one")
    index: int = Field(ge=0, le=10_000, description="its place there, from 0")


class LessonAssetsBody(Body):
    assets: list[Asset] = Field(max_length=20)


class QuestionBody(Body):
    question_id: UUID | None = None
    kind: Literal["multiple_choice", "multiple_answers", "short_answer"]
    prompt: text(2_000, min_length=1)  # type: ignore[valid-type]
    options: list[text(500, min_length=1)] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=20)
    correct: list[int] = Field(default_factory=list, max_length=20,
                               description="indexes of the correct options")
    accepted_answers: list[text(500)] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=20, description="short answer: accepted texts "
        "(compared ignoring case and spacing)")
    points: float = Field(default=1, gt=0, le=1_000)


class QuizBody(Body):
    quiz_id: UUID | None = None
    title: Title
    lesson_id: UUID | None = Field(default=None, description="the lesson it belongs to, or…")
    module_id: UUID | None = Field(default=None, description="…the module it belongs to")
    pass_mark: float = Field(default=60, ge=0, le=100, description="percent of the points")
    max_attempts: int = Field(default=0, ge=0, le=1_000, description="0: unlimited")
    questions: list[QuestionBody] = Field(min_length=1, max_length=100)


class QuizWritten(Written):
    quiz_id: UUID


class QuizRulesBody(Body):
    score_policy: Literal["best", "last"] = "best"
    require_passing_quizzes: bool = False


class AnswerBody(Body):
    question_id: UUID
    choices: list[int] = Field(default_factory=list, max_length=20)
    text: AnswerText = ""  # type: ignore[valid-type]


class QuizAnswersBody(Body):
    answers: list[AnswerBody] = Field(max_length=100)


class PublishAccepted(Written):
    workflow_id: UUID
    status: Literal["QUEUED"] = "QUEUED"


class EnrollBody(Body):
    student_id: UUID | None = Field(default=None, description="admins only: enroll this student")


class EnrollmentWritten(Written):
    enrollment_id: UUID
    state: str


class CancelBody(Body):
    reason: Reason = ""


ConsentPurpose = Literal["analytics", "marketing"]


class ConsentBody(Body):
    purpose: ConsentPurpose


class ErasureBody(Body):
    reason: Reason = ""
