"""Course: authored by an instructor, published, made ready by content processing, archived.

Lifecycle: DRAFT -> PUBLISHED -> READY -> ARCHIVED. A published or ready course may be edited;
publishing again starts a new content version. Seats are reserved on the course itself, so
the seat cap holds under concurrency by the aggregate's optimistic version check.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict, Forbidden, NotFound, RuleViolated
from commands.domain.limits import (
    MAX_COURSE_CONTENT_CHARS,
    MAX_LESSONS_PER_COURSE,
    MAX_MODULES_PER_COURSE,
)

DRAFT, PUBLISHED, READY, ARCHIVED = "DRAFT", "PUBLISHED", "READY", "ARCHIVED"


class Course(AggregateRoot):
    type_name = "course"

    @event("Created")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the library takes the aggregate id by this name
        instructor_id: UUID,
        title: str,
        description: str,
        tags: list[str],
        capacity: int,
        prerequisites: list[UUID],
    ) -> None:
        self.instructor_id = instructor_id
        self.title = title
        self.description = description
        self.tags = tuple(tags)
        self.capacity = capacity
        self.prerequisites = tuple(prerequisites)
        self.status = DRAFT
        self.modules: dict[UUID, tuple[UUID, ...]] = {}  # module id -> its lesson ids, in order
        self.module_titles: dict[UUID, str] = {}
        self.lessons: dict[UUID, dict[str, Any]] = {}
        self.content_version = 0  # bumped by each publish of changed content
        self.ready_version = 0  # the content version last made ready (searchable)
        self.content_changed = True  # edits since the last publish
        self.workflow_id: UUID | None = None
        self.seats: frozenset[UUID] = frozenset()  # enrollment ids holding a seat
        # Each student's latest enrollment and how many they had: a cancelled student's next
        # enrollment is a new aggregate, and at most one of theirs holds a seat at a time.
        self.latest: dict[UUID, UUID] = {}
        self.attempts: dict[UUID, int] = {}

    # -- queries used by rules -------------------------------------------------------------
    @property
    def seats_taken(self) -> int:
        return len(self.seats)

    @property
    def lesson_ids(self) -> tuple[UUID, ...]:
        return tuple(lesson for lessons in self.modules.values() for lesson in lessons)

    @property
    def takes_enrollments(self) -> bool:
        return self.status in (PUBLISHED, READY)

    def enrollment_of(self, student_id: UUID) -> UUID | None:
        """The student's latest enrollment in this course, if any."""
        return self.latest.get(student_id)

    def holds_seat(self, student_id: UUID) -> bool:
        return self.latest.get(student_id) in self.seats

    def check_open(self) -> None:
        """Enrollments are taken while published or ready; archived says so."""
        if self.status == ARCHIVED:
            raise Conflict("the course is archived and takes no enrollments",
                           "enrollment.course_archived")
        if not self.takes_enrollments:
            raise Conflict(f"a {self.status} course takes no enrollments",
                           "enrollment.course_not_open")

    def check_owner(self, user_id: UUID, is_admin: bool) -> None:
        if not is_admin and user_id != self.instructor_id:
            raise Forbidden("only the course's instructor may change it", "course.not_owner")

    def _check_editable(self) -> None:
        if self.status == ARCHIVED:
            raise Conflict("an archived course cannot change", "course.archived")

    def _check_size(self, modules: int = 0, lessons: int = 0, content_chars: int = 0) -> None:
        """Refuse growth past commands/domain/limits.py (the events must fit in Kafka)."""
        too_large = [
            (len(self.modules) + modules, MAX_MODULES_PER_COURSE, "modules"),
            (len(self.lessons) + lessons, MAX_LESSONS_PER_COURSE, "lessons"),
            (sum(len(lesson["content"]) for lesson in self.lessons.values()) + content_chars,
             MAX_COURSE_CONTENT_CHARS, "characters of lesson content"),
        ]
        for size, limit, what in too_large:
            if size > limit:
                raise RuleViolated(f"a course holds at most {limit} {what}", "course.too_large",
                                   limit=limit, size=size)

    # -- authoring ---------------------------------------------------------------------------
    def revise_details(self, title: str, description: str, tags: list[str]) -> None:
        self._check_editable()
        if (title, description, tuple(tags)) != (self.title, self.description, self.tags):
            self._revise_details(title=title, description=description, tags=tags)

    @event("DetailsRevised")
    def _revise_details(self, title: str, description: str, tags: list[str]) -> None:
        self.title, self.description, self.tags = title, description, tuple(tags)

    def change_capacity(self, capacity: int) -> None:
        self._check_editable()
        if capacity < self.seats_taken:
            raise Conflict(
                f"capacity {capacity} is below the {self.seats_taken} seats already taken",
                "course.capacity_below_enrollments",
            )
        if capacity != self.capacity:
            self._change_capacity(capacity=capacity)

    @event("CapacityChanged")
    def _change_capacity(self, capacity: int) -> None:
        self.capacity = capacity

    def set_prerequisites(self, prerequisites: list[UUID]) -> None:
        self._check_editable()
        if self.id in prerequisites:
            raise RuleViolated(
                "a course cannot be its own prerequisite", "course.self_prerequisite"
            )
        if tuple(prerequisites) != self.prerequisites:
            self._set_prerequisites(prerequisites=prerequisites)

    @event("PrerequisitesSet")
    def _set_prerequisites(self, prerequisites: list[UUID]) -> None:
        self.prerequisites = tuple(prerequisites)

    def add_module(self, module_id: UUID, title: str) -> None:
        self._check_editable()
        if module_id in self.modules:
            if self.module_titles[module_id] == title:
                return  # a retry of the same addition: it already took effect
            raise Conflict("the module already exists", "course.module_exists")
        self._check_size(modules=1)
        self._add_module(module_id=module_id, title=title, index=len(self.modules))

    @event("ModuleAdded")
    def _add_module(self, module_id: UUID, title: str, index: int) -> None:
        self.modules = {**self.modules, module_id: ()}
        self.module_titles = {**self.module_titles, module_id: title}
        self.content_changed = True

    def add_lesson(
        self, module_id: UUID, lesson_id: UUID, title: str, content: str,
        assets: list[dict[str, Any]],
    ) -> None:
        self._check_editable()
        if module_id not in self.modules:
            raise NotFound("no such module in this course", "course.module_not_found")
        if lesson_id in self.lessons:
            if self.lessons[lesson_id] == {"module_id": module_id, "title": title,
                                           "content": content, "assets": assets}:
                return  # a retry of the same addition: it already took effect
            raise Conflict("the lesson already exists", "course.lesson_exists")
        self._check_size(lessons=1, content_chars=len(content))
        self._add_lesson(
            module_id=module_id, lesson_id=lesson_id, title=title, content=content,
            assets=assets, index=len(self.modules[module_id]),
        )

    @event("LessonAdded")
    def _add_lesson(
        self, module_id: UUID, lesson_id: UUID, title: str, content: str,
        assets: list[dict[str, Any]], index: int,
    ) -> None:
        self.modules = {**self.modules, module_id: (*self.modules[module_id], lesson_id)}
        self.lessons = {
            **self.lessons,
            lesson_id: {"module_id": module_id, "title": title, "content": content,
                        "assets": assets},
        }
        self.content_changed = True

    def revise_lesson(self, lesson_id: UUID, title: str, content: str) -> None:
        self._check_editable()
        lesson = self.lessons.get(lesson_id)
        if lesson is None:
            raise NotFound("no such lesson in this course", "course.lesson_not_found")
        if (lesson["title"], lesson["content"]) != (title, content):
            self._check_size(content_chars=len(content) - len(lesson["content"]))
            self._revise_lesson(lesson_id=lesson_id, title=title, content=content)

    @event("LessonRevised")
    def _revise_lesson(self, lesson_id: UUID, title: str, content: str) -> None:
        self.lessons = {
            **self.lessons, lesson_id: {**self.lessons[lesson_id], "title": title,
                                        "content": content},
        }
        self.content_changed = True

    def remove_lesson(self, lesson_id: UUID) -> None:
        self._check_editable()
        if lesson_id not in self.lessons:
            raise NotFound("no such lesson in this course", "course.lesson_not_found")
        self._remove_lesson(lesson_id=lesson_id)

    @event("LessonRemoved")
    def _remove_lesson(self, lesson_id: UUID) -> None:
        module_id = self.lessons[lesson_id]["module_id"]
        self.modules = {
            **self.modules,
            module_id: tuple(lid for lid in self.modules[module_id] if lid != lesson_id),
        }
        self.lessons = {k: v for k, v in self.lessons.items() if k != lesson_id}
        self.content_changed = True

    # -- lifecycle ---------------------------------------------------------------------------
    def publish(self, workflow_id: UUID) -> None:
        """Start (or restart, for changed content) the publishing pipeline."""
        self._check_editable()
        if not self.lessons:
            raise RuleViolated("a course needs at least one lesson to be published",
                               "course.no_lessons")
        if self.status in (PUBLISHED, READY) and not self.content_changed:
            raise Conflict("this content version is already published", "course.already_published")
        # By reference: the text stays in the lesson events (the workflow reads it from the
        # store), so this event grows by ~1 KB per lesson at most, never by the content.
        lessons = [
            {"lesson_id": str(lid), "module_id": str(self.lessons[lid]["module_id"]),
             "title": self.lessons[lid]["title"], "content": None,
             "content_sha256": content_sha256(self.lessons[lid]["content"]),
             "content_length": len(self.lessons[lid]["content"])}
            for lid in self.lesson_ids
        ]
        self._publish(workflow_id=workflow_id, content_version=self.content_version + 1,
                      lessons=lessons)

    @event("Published")
    def _publish(self, workflow_id: UUID, content_version: int,
                 lessons: list[dict[str, Any]]) -> None:
        self.status = PUBLISHED if self.status != READY else READY
        self.content_version = content_version
        self.content_changed = False
        self.workflow_id = workflow_id

    def mark_ready(self, content_version: int, workflow_id: UUID, chunk_count: int) -> None:
        if self.status == READY and self.ready_version == content_version:
            return  # a redelivered completion of the same version
        if content_version != self.content_version:
            raise Conflict("a newer content version was published meanwhile",
                           "course.stale_content_version")
        if self.status not in (PUBLISHED, READY):
            raise Conflict(f"a {self.status} course cannot become ready",
                           "course.invalid_transition")
        self._mark_ready(content_version=content_version, workflow_id=workflow_id,
                         chunk_count=chunk_count)

    @event("Ready")
    def _mark_ready(self, content_version: int, workflow_id: UUID, chunk_count: int) -> None:
        self.status = READY
        self.ready_version = content_version

    def revert_to_draft(self, workflow_id: UUID, reason: str) -> None:
        """Compensation when the publishing pipeline fails."""
        if self.status != PUBLISHED or workflow_id != self.workflow_id:
            return  # a later publish or a ready course is not undone by an old failure
        self._revert_to_draft(workflow_id=workflow_id, reason=reason)

    @event("RevertedToDraft")
    def _revert_to_draft(self, workflow_id: UUID, reason: str) -> None:
        self.status = DRAFT
        self.content_changed = True

    def archive(self) -> None:
        if self.status == ARCHIVED:
            return
        self._archive()

    @event("Archived")
    def _archive(self) -> None:
        self.status = ARCHIVED

    # -- seats -------------------------------------------------------------------------------
    def reserve_seat(self, enrollment_id: UUID, student_id: UUID) -> None:
        self.check_open()
        if enrollment_id in self.seats:
            return
        if self.holds_seat(student_id):
            raise Conflict("the student already has an open enrollment in this course",
                           "enrollment.duplicate")
        if self.seats_taken >= self.capacity:
            raise Conflict(f"all {self.capacity} seats are taken", "enrollment.seat_cap_reached")
        self._reserve_seat(enrollment_id=enrollment_id, student_id=student_id)

    @event("SeatReserved")
    def _reserve_seat(self, enrollment_id: UUID, student_id: UUID) -> None:
        self.seats = self.seats | {enrollment_id}
        if self.latest.get(student_id) != enrollment_id:
            self.latest = {**self.latest, student_id: enrollment_id}
            self.attempts = {**self.attempts, student_id: self.attempts.get(student_id, 0) + 1}

    def release_seat(self, enrollment_id: UUID) -> None:
        if enrollment_id in self.seats:
            self._release_seat(enrollment_id=enrollment_id)

    @event("SeatReleased")
    def _release_seat(self, enrollment_id: UUID) -> None:
        self.seats = self.seats - {enrollment_id}


def content_sha256(text: str) -> str:
    """The reference course.published carries for a lesson's text."""
    return hashlib.sha256(text.encode()).hexdigest()
