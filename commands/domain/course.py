"""Course: authored by an instructor, published, made ready by content processing, archived.

Lifecycle: DRAFT -> PUBLISHED -> READY -> ARCHIVED (and back: restore); a draft that was never
published may be deleted. A published or ready course may be edited; publishing again starts
a new content version. Quizzes are part of the course (graded on the enrollment's side).
Seats are reserved on the course itself, so the seat cap holds under concurrency by the
aggregate's optimistic version check.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict, Forbidden, NotFound, RuleViolated
from commands.domain.limits import (
    MAX_ASSETS_PER_LESSON,
    MAX_COURSE_CONTENT_CHARS,
    MAX_LESSONS_PER_COURSE,
    MAX_MODULES_PER_COURSE,
    MAX_PENDING_UPLOADS,
)
from commands.domain.quiz import SCORE_POLICIES, check_quiz

DRAFT, PUBLISHED, READY, ARCHIVED = "DRAFT", "PUBLISHED", "READY", "ARCHIVED"
DELETED = "DELETED"  # a draft removed by its instructor: gone for every command and read


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
        starts_at: str | None = None,  # ISO 8601, UTC; None: no start date (self-paced)
    ) -> None:
        self.instructor_id = instructor_id
        self.starts_at = starts_at
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
        self.quizzes: dict[str, dict[str, Any]] = {}  # quiz id (text) -> its definition
        self.score_policy = "best"  # which attempt's score counts: best or last
        self.require_passing_quizzes = False  # completion needs every quiz passed
        # Each student's latest enrollment and how many they had: a cancelled student's next
        # enrollment is a new aggregate, and at most one of theirs holds a seat at a time.
        self.latest: dict[UUID, UUID] = {}
        self.attempts: dict[UUID, int] = {}
        # Presigned uploads requested and not yet confirmed: asset id (text) -> what was
        # declared (lesson, key, name, type, size, sha256); confirmation checks the stored
        # bytes against it.
        self.pending_uploads: dict[str, dict[str, Any]] = {}

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

    @property
    def deleted(self) -> bool:
        return self.status == DELETED

    @property
    def required_quiz_ids(self) -> frozenset[str]:
        """The quizzes a student must pass to complete the course."""
        return frozenset(self.quizzes) if self.require_passing_quizzes else frozenset()

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
        if self.status == DELETED:
            raise NotFound("no such course", "course.not_found")

    def _module(self, module_id: UUID) -> tuple[UUID, ...]:
        if module_id not in self.modules:
            raise NotFound("no such module in this course", "course.module_not_found")
        return self.modules[module_id]

    def _lesson(self, lesson_id: UUID) -> dict[str, Any]:
        lesson = self.lessons.get(lesson_id)
        if lesson is None:
            raise NotFound("no such lesson in this course", "course.lesson_not_found")
        return lesson

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

    def set_start(self, starts_at: str | None) -> None:
        """When the course starts (ISO 8601, UTC), or None: no start date. Enrolled students
        are reminded a lead time before it (the enrollment workflow)."""
        self._check_editable()
        if starts_at != getattr(self, "starts_at", None):
            self._set_start(starts_at=starts_at)

    @event("StartDateChanged")
    def _set_start(self, starts_at: str | None) -> None:
        self.starts_at = starts_at

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
            known = {k: self.lessons[lesson_id].get(k) for k in ("module_id", "title",
                                                                   "content", "assets")}
            if known == {"module_id": module_id, "title": title, "content": content,
                         "assets": assets}:
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
        self.quizzes = {k: q for k, q in self.quizzes.items()
                        if q.get("lesson_id") != str(lesson_id)}
        self.content_changed = True

    # -- structure: modules and lessons moved, renamed, removed -------------------------------
    def rename_module(self, module_id: UUID, title: str) -> None:
        self._check_editable()
        self._module(module_id)
        if self.module_titles[module_id] != title:
            self._rename_module(module_id=module_id, title=title)

    @event("ModuleRenamed")
    def _rename_module(self, module_id: UUID, title: str) -> None:
        self.module_titles = {**self.module_titles, module_id: title}
        self.content_changed = True

    def remove_module(self, module_id: UUID) -> None:
        """Remove a module with its lessons (and the quizzes attached to either)."""
        self._check_editable()
        lessons = self._module(module_id)
        self._remove_module(module_id=module_id, lesson_ids=list(lessons),
                            module_ids=[m for m in self.modules if m != module_id])

    @event("ModuleRemoved")
    def _remove_module(self, module_id: UUID, lesson_ids: list[UUID],
                       module_ids: list[UUID]) -> None:
        gone = set(lesson_ids)
        self.modules = {m: self.modules[m] for m in module_ids}
        self.module_titles = {m: self.module_titles[m] for m in module_ids}
        self.lessons = {k: v for k, v in self.lessons.items() if k not in gone}
        attached = {str(module_id), *map(str, gone)}
        self.quizzes = {k: q for k, q in self.quizzes.items()
                        if q.get("lesson_id") not in attached
                        and q.get("module_id") not in attached}
        self.content_changed = True

    def reorder_modules(self, module_ids: list[UUID]) -> None:
        self._check_editable()
        if len(module_ids) != len(self.modules) or set(module_ids) != set(self.modules):
            raise RuleViolated("the new order must name every module of the course once",
                               "course.invalid_module_order")
        if list(module_ids) != list(self.modules):
            self._reorder_modules(module_ids=list(module_ids))

    @event("ModulesReordered")
    def _reorder_modules(self, module_ids: list[UUID]) -> None:
        self.modules = {m: self.modules[m] for m in module_ids}
        self.content_changed = True

    def move_lesson(self, lesson_id: UUID, module_id: UUID, index: int) -> None:
        """Move a lesson to `index` of a module (its own or another): reorder or move."""
        self._check_editable()
        source = self._lesson(lesson_id)["module_id"]
        target = [lid for lid in self._module(module_id) if lid != lesson_id]
        if not 0 <= index <= len(target):
            raise RuleViolated(f"the index must lie between 0 and {len(target)}",
                               "course.invalid_lesson_index")
        target.insert(index, lesson_id)
        if module_id == source and tuple(target) == self.modules[source]:
            return
        left = [lid for lid in self.modules[source] if lid != lesson_id]
        self._move_lesson(lesson_id=lesson_id, module_id=module_id, index=index,
                          from_module_id=source, lesson_ids=target,
                          from_lesson_ids=target if module_id == source else left)

    @event("LessonMoved")
    def _move_lesson(self, lesson_id: UUID, module_id: UUID, index: int,
                     from_module_id: UUID, lesson_ids: list[UUID],
                     from_lesson_ids: list[UUID]) -> None:
        self.modules = {**self.modules, from_module_id: tuple(from_lesson_ids),
                        module_id: tuple(lesson_ids)}
        self.lessons = {**self.lessons,
                        lesson_id: {**self.lessons[lesson_id], "module_id": module_id}}
        self.content_changed = True

    def revise_lesson_assets(self, lesson_id: UUID, assets: list[dict[str, Any]]) -> None:
        self._check_editable()
        if self._lesson(lesson_id)["assets"] != assets:
            self._revise_lesson_assets(lesson_id=lesson_id, assets=assets)

    @event("LessonAssetsRevised")
    def _revise_lesson_assets(self, lesson_id: UUID, assets: list[dict[str, Any]]) -> None:
        self.lessons = {**self.lessons, lesson_id: {**self.lessons[lesson_id],
                                                    "assets": assets}}
        self.content_changed = True

    # -- stored assets: bytes in the object store, metadata here (docs/adr/0040) ------------
    def files_of(self, lesson_id: UUID) -> tuple[dict[str, Any], ...]:
        """The lesson's stored assets, in the order they were first attached."""
        return tuple(self._lesson(lesson_id).get("files", ()))

    def _asset_owner(self, asset_id: UUID) -> UUID | None:
        for lid, lesson in self.lessons.items():
            if any(f["asset_id"] == str(asset_id) for f in lesson.get("files", ())):
                return lid
        pending = self.pending_uploads.get(str(asset_id))
        return UUID(pending["lesson_id"]) if pending else None

    def check_asset_target(self, lesson_id: UUID, asset_id: UUID) -> None:
        """The asset may be stored on this lesson (before any byte is written)."""
        self._check_editable()
        files = self.files_of(lesson_id)
        owner = self._asset_owner(asset_id)
        if owner is not None and owner != lesson_id:
            raise Conflict("the asset belongs to another lesson", "asset.in_other_lesson",
                           lesson_id=str(owner))
        if all(f["asset_id"] != str(asset_id) for f in files) \
                and len(files) >= MAX_ASSETS_PER_LESSON:
            raise RuleViolated(f"a lesson holds at most {MAX_ASSETS_PER_LESSON} assets",
                               "asset.too_many", limit=MAX_ASSETS_PER_LESSON)

    def request_asset_upload(self, lesson_id: UUID, asset_id: UUID, key: str, name: str,
                             mime_type: str, size_bytes: int, sha256: str) -> None:
        """A presigned upload: the client puts the bytes to `key`, then confirms."""
        self.check_asset_target(lesson_id, asset_id)
        declared = {"lesson_id": str(lesson_id), "key": key, "name": name,
                    "mime_type": mime_type, "size_bytes": size_bytes, "sha256": sha256}
        if self.pending_uploads.get(str(asset_id)) == declared:
            return  # a retry of the same request
        if len(self.pending_uploads) >= MAX_PENDING_UPLOADS:
            raise RuleViolated(f"at most {MAX_PENDING_UPLOADS} uploads may wait for "
                               "confirmation", "asset.too_many_pending")
        self._request_asset_upload(asset_id=asset_id, **{**declared, "lesson_id": lesson_id})

    @event("AssetUploadRequested")
    def _request_asset_upload(self, lesson_id: UUID, asset_id: UUID, key: str, name: str,
                              mime_type: str, size_bytes: int, sha256: str) -> None:
        self.pending_uploads = {**self.pending_uploads, str(asset_id): {
            "lesson_id": str(lesson_id), "key": key, "name": name, "mime_type": mime_type,
            "size_bytes": size_bytes, "sha256": sha256}}

    def store_asset(self, lesson_id: UUID, asset_id: UUID, key: str, name: str,
                    mime_type: str, size_bytes: int, sha256: str) -> None:
        """Attach stored bytes to the lesson, or replace the asset's earlier file."""
        self.check_asset_target(lesson_id, asset_id)
        current = next((f for f in self.files_of(lesson_id)
                        if f["asset_id"] == str(asset_id)), None)
        if current is not None and current["key"] == key:
            return  # a retry of the same store
        self._store_asset(lesson_id=lesson_id, asset_id=asset_id, key=key, name=name,
                          mime_type=mime_type, size_bytes=size_bytes, sha256=sha256)

    def confirm_asset_upload(self, lesson_id: UUID, asset_id: UUID, key: str,
                             size_bytes: int, sha256: str) -> None:
        """The bytes at `key` (measured by the caller) match the request: store them."""
        pending = self.pending_uploads.get(str(asset_id))
        if pending is None or pending["key"] != key:
            if any(f["asset_id"] == str(asset_id) and f["key"] == key
                   for f in self.files_of(lesson_id)):
                return  # confirmed already
            raise NotFound("no such upload waits for confirmation", "asset.upload_not_found")
        if pending["lesson_id"] != str(lesson_id):
            raise NotFound("no such upload waits for confirmation", "asset.upload_not_found")
        if size_bytes != pending["size_bytes"]:
            raise RuleViolated(f"the stored file has {size_bytes} bytes, not the "
                               f"{pending['size_bytes']} declared", "asset.size_mismatch",
                               declared=pending["size_bytes"], stored=size_bytes)
        if sha256 != pending["sha256"]:
            raise RuleViolated("the stored file's SHA-256 is not the one declared",
                               "asset.checksum_mismatch", declared=pending["sha256"],
                               stored=sha256)
        self.store_asset(lesson_id, asset_id, key, pending["name"], pending["mime_type"],
                         size_bytes, sha256)

    @event("AssetStored")
    def _store_asset(self, lesson_id: UUID, asset_id: UUID, key: str, name: str,
                     mime_type: str, size_bytes: int, sha256: str) -> None:
        stored = {"asset_id": str(asset_id), "key": key, "name": name,
                  "mime_type": mime_type, "size_bytes": size_bytes, "sha256": sha256}
        files = list(self.lessons[lesson_id].get("files", ()))
        at = next((i for i, f in enumerate(files) if f["asset_id"] == str(asset_id)), None)
        if at is None:
            files.append(stored)
        else:
            files[at] = stored
        self.lessons = {**self.lessons, lesson_id: {**self.lessons[lesson_id],
                                                    "files": tuple(files)}}
        self.pending_uploads = {k: v for k, v in self.pending_uploads.items()
                                if k != str(asset_id)}
        self.content_changed = True

    def remove_asset(self, lesson_id: UUID, asset_id: UUID) -> None:
        self._check_editable()
        if all(f["asset_id"] != str(asset_id) for f in self.files_of(lesson_id)):
            raise NotFound("no such asset in this lesson", "asset.not_found")
        self._remove_asset(lesson_id=lesson_id, asset_id=asset_id)

    @event("AssetRemoved")
    def _remove_asset(self, lesson_id: UUID, asset_id: UUID) -> None:
        files = tuple(f for f in self.lessons[lesson_id].get("files", ())
                      if f["asset_id"] != str(asset_id))
        self.lessons = {**self.lessons, lesson_id: {**self.lessons[lesson_id], "files": files}}
        self.content_changed = True

    # -- quizzes -------------------------------------------------------------------------------
    def _check_quiz_target(self, lesson_id: str | None, module_id: str | None) -> None:
        if (lesson_id is None) == (module_id is None):
            raise RuleViolated("a quiz belongs to exactly one lesson or one module",
                               "quiz.invalid_target")
        if lesson_id is not None:
            self._lesson(UUID(lesson_id))
        if module_id is not None:
            self._module(UUID(module_id))

    def add_quiz(self, quiz: dict[str, Any]) -> None:
        """`quiz`: quiz_id, title, lesson_id or module_id, pass_mark, max_attempts, questions
        (JSON-shaped, ids as text)."""
        self._check_editable()
        if quiz["quiz_id"] in self.quizzes:
            raise Conflict("the quiz already exists", "quiz.exists")
        self._check_quiz_target(quiz["lesson_id"], quiz["module_id"])
        check_quiz(quiz["questions"], quiz["pass_mark"])
        self._add_quiz(**quiz)

    @event("QuizAdded")
    def _add_quiz(self, quiz_id: str, title: str, lesson_id: str | None,
                  module_id: str | None, pass_mark: float, max_attempts: int,
                  questions: list[dict[str, Any]]) -> None:
        self.quizzes = {**self.quizzes, quiz_id: {
            "quiz_id": quiz_id, "title": title, "lesson_id": lesson_id,
            "module_id": module_id, "pass_mark": pass_mark, "max_attempts": max_attempts,
            "questions": questions}}

    def revise_quiz(self, quiz: dict[str, Any]) -> None:
        self._check_editable()
        if quiz["quiz_id"] not in self.quizzes:
            raise NotFound("no such quiz in this course", "quiz.not_found")
        self._check_quiz_target(quiz["lesson_id"], quiz["module_id"])
        check_quiz(quiz["questions"], quiz["pass_mark"])
        if self.quizzes[quiz["quiz_id"]] != quiz:
            self._revise_quiz(**quiz)

    @event("QuizRevised")
    def _revise_quiz(self, quiz_id: str, title: str, lesson_id: str | None,
                     module_id: str | None, pass_mark: float, max_attempts: int,
                     questions: list[dict[str, Any]]) -> None:
        self.quizzes = {**self.quizzes, quiz_id: {
            "quiz_id": quiz_id, "title": title, "lesson_id": lesson_id,
            "module_id": module_id, "pass_mark": pass_mark, "max_attempts": max_attempts,
            "questions": questions}}

    def remove_quiz(self, quiz_id: str) -> None:
        self._check_editable()
        if quiz_id not in self.quizzes:
            raise NotFound("no such quiz in this course", "quiz.not_found")
        self._remove_quiz(quiz_id=quiz_id)

    @event("QuizRemoved")
    def _remove_quiz(self, quiz_id: str) -> None:
        self.quizzes = {k: v for k, v in self.quizzes.items() if k != quiz_id}

    def quiz(self, quiz_id: str) -> dict[str, Any]:
        found = self.quizzes.get(quiz_id)
        if found is None:
            raise NotFound("no such quiz in this course", "quiz.not_found")
        return found

    def set_quiz_rules(self, score_policy: str, require_passing_quizzes: bool) -> None:
        """Which attempt counts (best or last) and whether completion needs every quiz."""
        self._check_editable()
        if score_policy not in SCORE_POLICIES:
            raise RuleViolated(f"the score policy is one of {', '.join(SCORE_POLICIES)}",
                               "quiz.unknown_score_policy")
        if (score_policy, require_passing_quizzes) != (self.score_policy,
                                                       self.require_passing_quizzes):
            self._set_quiz_rules(score_policy=score_policy,
                                 require_passing_quizzes=require_passing_quizzes)

    @event("QuizRulesSet")
    def _set_quiz_rules(self, score_policy: str, require_passing_quizzes: bool) -> None:
        self.score_policy = score_policy
        self.require_passing_quizzes = require_passing_quizzes

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
        if self.status == DELETED:
            raise NotFound("no such course", "course.not_found")
        if self.status == ARCHIVED:
            return
        self._archive()

    @event("Archived")
    def _archive(self) -> None:
        self.status = ARCHIVED

    def restore(self) -> None:
        """Un-archive: back to READY if its last published version was made ready, else to
        DRAFT (to be published again)."""
        if self.status != ARCHIVED:
            raise Conflict(f"only an archived course can be restored, not a {self.status} one",
                           "course.not_archived")
        ready = self.content_version > 0 and self.ready_version == self.content_version
        self._restore(status=READY if ready else DRAFT)

    @event("Restored")
    def _restore(self, status: str) -> None:
        self.status = status
        if status == DRAFT:
            self.content_changed = True

    def delete(self) -> None:
        """Delete a draft that was never published (published content has readers)."""
        if self.status == DELETED:
            raise NotFound("no such course", "course.not_found")
        if self.status != DRAFT or self.content_version > 0:
            raise Conflict("only a draft that was never published can be deleted; archive it "
                           "instead", "course.not_deletable")
        self._delete()

    @event("Deleted")
    def _delete(self) -> None:
        self.status = DELETED

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
