"""Commands: what a user (or a workflow) asks the write side to do. Imperative names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from identity.actor import Actor as Actor  # commands name their actor; it lives with identity


@dataclass(frozen=True)
class RegisterUser:
    user_id: UUID
    display_name: str
    email: str  # normalised (identity.emails): the claim that keeps emails unique
    role: str


@dataclass(frozen=True)
class ChangeRole:
    user_id: UUID
    role: str


@dataclass(frozen=True)
class DeactivateUser:
    user_id: UUID
    reason: str = ""


@dataclass(frozen=True)
class ReactivateUser:
    user_id: UUID


@dataclass(frozen=True)
class RecordPasswordChange:
    user_id: UUID


@dataclass(frozen=True)
class EraseUser:
    """Erase a user's personal data (crypto-shredding): the user themself, or an admin."""

    user_id: UUID
    reason: str = ""


@dataclass(frozen=True)
class GiveConsent:
    user_id: UUID
    purpose: str


@dataclass(frozen=True)
class WithdrawConsent:
    user_id: UUID
    purpose: str


@dataclass(frozen=True)
class CreateCourse:
    course_id: UUID
    title: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    capacity: int = 100
    prerequisites: list[UUID] = field(default_factory=list)
    instructor_id: UUID | None = None  # admins may create on an instructor's behalf
    starts_at: str | None = None  # ISO 8601 in UTC


@dataclass(frozen=True)
class SetCourseStart:
    """When the course starts (ISO 8601, UTC), or None to have no start date."""

    course_id: UUID
    starts_at: str | None


@dataclass(frozen=True)
class ReviseCourseDetails:
    course_id: UUID
    title: str
    description: str
    tags: list[str]


@dataclass(frozen=True)
class ChangeCapacity:
    course_id: UUID
    capacity: int


@dataclass(frozen=True)
class SetPrerequisites:
    course_id: UUID
    prerequisites: list[UUID]


@dataclass(frozen=True)
class AddModule:
    course_id: UUID
    module_id: UUID
    title: str


@dataclass(frozen=True)
class AddLesson:
    course_id: UUID
    module_id: UUID
    lesson_id: UUID
    title: str
    content: str
    assets: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ReviseLesson:
    course_id: UUID
    lesson_id: UUID
    title: str
    content: str


@dataclass(frozen=True)
class RemoveLesson:
    course_id: UUID
    lesson_id: UUID


@dataclass(frozen=True)
class RenameModule:
    course_id: UUID
    module_id: UUID
    title: str


@dataclass(frozen=True)
class RemoveModule:
    course_id: UUID
    module_id: UUID


@dataclass(frozen=True)
class ReorderModules:
    course_id: UUID
    module_ids: list[UUID]


@dataclass(frozen=True)
class MoveLesson:
    """Within its module (a reorder) or into another one, at `index` there."""

    course_id: UUID
    lesson_id: UUID
    module_id: UUID
    index: int


@dataclass(frozen=True)
class ReviseLessonAssets:
    course_id: UUID
    lesson_id: UUID
    assets: list[dict[str, Any]]


@dataclass(frozen=True)
class CheckAssetTarget:
    """Records nothing: may the actor store this asset on this lesson (asked before any
    byte reaches the object store)?"""

    course_id: UUID
    lesson_id: UUID
    asset_id: UUID


@dataclass(frozen=True)
class RequestAssetUpload:
    """A presigned upload: the declared file, to be confirmed once the bytes are stored."""

    course_id: UUID
    lesson_id: UUID
    asset_id: UUID
    key: str
    name: str
    mime_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class StoreLessonAsset:
    """Bytes already in the object store (direct upload), measured by the API."""

    course_id: UUID
    lesson_id: UUID
    asset_id: UUID
    key: str
    name: str
    mime_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class ConfirmAssetUpload:
    """The presigned upload's bytes as the store holds them (size and SHA-256 measured)."""

    course_id: UUID
    lesson_id: UUID
    asset_id: UUID
    key: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class RemoveLessonAsset:
    course_id: UUID
    lesson_id: UUID
    asset_id: UUID


@dataclass(frozen=True)
class DeleteCourse:
    course_id: UUID


@dataclass(frozen=True)
class RestoreCourse:
    course_id: UUID


@dataclass(frozen=True)
class AddQuiz:
    """`quiz`: JSON-shaped (ids as text): quiz_id, title, lesson_id or module_id, pass_mark
    (percent), max_attempts (0: unlimited), questions."""

    course_id: UUID
    quiz: dict[str, Any]


@dataclass(frozen=True)
class ReviseQuiz:
    course_id: UUID
    quiz: dict[str, Any]


@dataclass(frozen=True)
class RemoveQuiz:
    course_id: UUID
    quiz_id: UUID


@dataclass(frozen=True)
class SetQuizRules:
    course_id: UUID
    score_policy: str  # best | last
    require_passing_quizzes: bool


@dataclass(frozen=True)
class SubmitQuizAnswers:
    """A student's answers: the server grades them against the course's quiz."""

    enrollment_id: UUID
    quiz_id: UUID
    answers: list[dict[str, Any]]  # question_id (text), choices (indexes), text


@dataclass(frozen=True)
class PublishCourse:
    course_id: UUID
    workflow_id: UUID


@dataclass(frozen=True)
class MarkCourseReady:
    course_id: UUID
    content_version: int
    workflow_id: UUID
    chunk_count: int


@dataclass(frozen=True)
class RevertCourseToDraft:
    course_id: UUID
    workflow_id: UUID
    reason: str


@dataclass(frozen=True)
class ArchiveCourse:
    course_id: UUID


@dataclass(frozen=True)
class EnrollStudent:
    course_id: UUID
    student_id: UUID


@dataclass(frozen=True)
class ActivateEnrollment:
    enrollment_id: UUID


@dataclass(frozen=True)
class CompleteLesson:
    enrollment_id: UUID
    lesson_id: UUID


@dataclass(frozen=True)
class ScoreQuiz:
    """A score recorded by the platform itself (imports); students submit answers instead."""

    enrollment_id: UUID
    quiz_id: UUID
    score: float
    max_score: float


@dataclass(frozen=True)
class CancelEnrollment:
    enrollment_id: UUID
    reason: str = ""


@dataclass(frozen=True)
class StartWorkflow:
    """Record that a process manager began a run (the platform's own actor only)."""

    workflow_id: UUID
    kind: str
    course_id: UUID
    content_version: int


@dataclass(frozen=True)
class RecordContentChunked:
    workflow_id: UUID
    chunker: str
    chunk_count: int
    content_hash: str
    lessons: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class FailWorkflow:
    workflow_id: UUID
    step: str
    reason: str
    attempts: int


@dataclass(frozen=True)
class CancelWorkflow:
    """An operator ends a publishing run that is stuck (admins): the run fails, the course
    goes back to DRAFT, and a worker still carrying the run stops at its next step."""

    workflow_id: UUID
    reason: str


@dataclass(frozen=True)
class CompleteWorkflow:
    workflow_id: UUID
    chunk_count: int


# -- the enrollment workflow, notifications and certificates (the platform's own actor) -------
@dataclass(frozen=True)
class InitialiseProgress:
    """Every lesson of the course NOT_STARTED: the enrollment workflow's first step."""

    enrollment_id: UUID


@dataclass(frozen=True)
class ScheduleReminder:
    enrollment_id: UUID
    reminder_id: UUID
    kind: str  # inactive | course_starting
    due_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class FireReminder:
    enrollment_id: UUID
    reminder_id: UUID
    fired_at: str


@dataclass(frozen=True)
class IssueCertificate:
    enrollment_id: UUID


@dataclass(frozen=True)
class RequestNotification:
    """Owe a user a message; suppressed if they opted out or no address is known."""

    notification_id: UUID
    user_id: UUID
    template: str
    category: str
    variables: dict[str, str] = field(default_factory=dict)
    channel: str = "email"


@dataclass(frozen=True)
class RecordNotificationSent:
    notification_id: UUID
    attempts: int
    provider_id: str = ""


@dataclass(frozen=True)
class RecordNotificationFailed:
    notification_id: UUID
    attempts: int
    reason: str


@dataclass(frozen=True)
class Unsubscribe:
    user_id: UUID
    category: str = "all"
    via: str = "api"  # api | link


@dataclass(frozen=True)
class Resubscribe:
    user_id: UUID
    category: str = "all"


@dataclass(frozen=True)
class ChooseLocale:
    user_id: UUID
    locale: str


@dataclass(frozen=True)
class NotifyAboutEnrollment:
    """Owe the enrollment's student a message (welcome, reminder, certificate); the write
    side fills in the address and the template's variables from the aggregates."""

    notification_id: UUID
    enrollment_id: UUID
    template: str


@dataclass(frozen=True)
class RegisterWebhook:
    """An outgoing webhook (admins): the URL gets the named templates' notifications."""

    webhook_id: UUID
    url: str
    templates: list[str]


@dataclass(frozen=True)
class RemoveWebhook:
    webhook_id: UUID


@dataclass(frozen=True)
class ScheduleCourseStartReminder:
    """(Re)schedule the enrollment's "course starting soon" reminder `lead_seconds` before
    the course's current start; nothing if it has none or it is not after `at`."""

    enrollment_id: UUID
    reminder_id: UUID
    lead_seconds: float
    at: str  # the causing event's time (ISO 8601)


@dataclass(frozen=True)
class DisableWebhook:
    """The platform gives up on an endpoint that kept failing (its circuit breaker)."""

    webhook_id: UUID
    reason: str


@dataclass(frozen=True)
class EnableWebhook:
    """An admin turns a disabled webhook back on."""

    webhook_id: UUID
