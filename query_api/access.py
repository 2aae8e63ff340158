"""Who may read what: pure rules over the caller and the rows (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from commands.api.errors import Unauthorized
from commands.domain.errors import Forbidden, NotFound
from commands.messages import Actor

PUBLIC_STATUSES = ("PUBLISHED", "READY")


@dataclass(frozen=True)
class CatalogScope:
    statuses: tuple[str, ...]
    instructor_id: UUID | None


def catalog_scope(actor: Actor | None, status: str | None,
                  instructor_id: UUID | None) -> CatalogScope:
    """Anyone lists published and ready courses; drafts and archived ones are for their
    instructor (who sees only their own) and admins."""
    if status is None:
        return CatalogScope(PUBLIC_STATUSES, instructor_id)
    if status in PUBLIC_STATUSES or (actor is not None and actor.is_admin):
        return CatalogScope((status,), instructor_id)
    if actor is None:
        raise Unauthorized(f"sign in to list {status} courses")
    if actor.role != "instructor":
        raise Forbidden(f"only instructors and admins list {status} courses",
                        "catalog.status_forbidden")
    if instructor_id not in (None, actor.user_id):
        raise Forbidden(f"instructors list only their own {status} courses",
                        "catalog.status_forbidden")
    return CatalogScope((status,), actor.user_id)


def ensure_course_visible(actor: Actor | None, instructor_id: UUID, status: str,
                          content_version: int) -> None:
    """A course is public once published (archived ones too, if they ever were); until then
    only its instructor and admins see it, and to others it does not exist."""
    published = status in PUBLIC_STATUSES or (status == "ARCHIVED" and content_version > 0)
    if published or (actor is not None and (actor.is_admin or actor.user_id == instructor_id)):
        return
    raise NotFound("no such course", "course.not_found")


def ensure_course_owner(actor: Actor, instructor_id: UUID) -> None:
    if not actor.is_admin and actor.user_id != instructor_id:
        raise Forbidden("only the course's instructor and admins read its roster",
                        "course.not_owner")


def ensure_self_or_admin(actor: Actor, user_id: UUID, what: str) -> None:
    if not actor.is_admin and actor.user_id != user_id:
        raise Forbidden(f"you may read only your own {what}", "auth.not_yours")


def ensure_instructor_self(actor: Actor, instructor_id: UUID) -> None:
    if actor.is_admin:
        return
    if actor.role != "instructor" or actor.user_id != instructor_id:
        raise Forbidden("instructors read only their own courses", "auth.not_yours")


READING_STATES = ("ACTIVE", "COMPLETED")


def may_author(actor: Actor | None, instructor_id: UUID) -> bool:
    return actor is not None and (actor.is_admin or actor.user_id == instructor_id)


def ensure_may_learn(actor: Actor | None, instructor_id: UUID, enrollment_state: str | None
                     ) -> None:
    """Lesson content and quizzes: for the course's instructor and admins (drafts too), and
    for students whose enrollment is active or completed."""
    if may_author(actor, instructor_id):
        return
    if actor is None:
        raise Unauthorized("sign in to read the course's lessons")
    if enrollment_state not in READING_STATES:
        raise Forbidden("enroll in the course (and have the enrollment active) to read its "
                        "lessons", "course.not_enrolled", enrollment_state=enrollment_state)
