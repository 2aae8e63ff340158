"""Workflow: one run of a process manager (the publishing pipeline), recorded as facts.

A run is started once per `course.published` (its id is that event's workflow id), records
the content it chunked, and ends failed or completed. Every method is idempotent for the
same facts, because the process manager re-issues its commands after a crash or redelivery.

RUNNING -> FAILED | COMPLETED. The event `content.chunked` keeps the platform's public name
(not `workflow.content_chunked`): analysts and other consumers know it by that name.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict

RUNNING, FAILED, COMPLETED = "RUNNING", "FAILED", "COMPLETED"
CANCELLED_STEP = "cancelled"  # the failed step of a run an operator ended


class Workflow(AggregateRoot):
    type_name = "workflow"

    @event("Started")
    def __init__(self, id: UUID, kind: str, course_id: UUID,  # noqa: A002
                 content_version: int) -> None:
        self.kind = kind
        self.course_id = course_id
        self.content_version = content_version
        self.state = RUNNING
        self.content_hash: str | None = None  # of the chunks recorded, once chunked
        self.chunk_count = 0

    @classmethod
    def event_type(cls, event_class: type) -> str:
        if event_class.__name__ == "ContentChunked":
            return "content.chunked"
        return super().event_type(event_class)

    def _check_running(self, action: str) -> None:
        if self.state != RUNNING:
            raise Conflict(f"cannot {action} a {self.state} workflow",
                           "workflow.invalid_transition", state=self.state)

    def record_chunks(self, chunker: str, chunk_count: int, content_hash: str,
                      lessons: list[dict[str, Any]]) -> None:
        """What the pipeline will embed: one summary per lesson and a hash over all chunks."""
        if self.content_hash == content_hash:
            return  # the same content, chunked again after a restart
        self._check_running("record chunks of")
        if self.content_hash is not None:
            raise Conflict("the workflow already chunked different content",
                           "workflow.content_mismatch")
        self._record_chunks(chunker=chunker, course_id=self.course_id,
                            content_version=self.content_version, chunk_count=chunk_count,
                            content_hash=content_hash, lessons=lessons)

    @event("ContentChunked")
    def _record_chunks(self, chunker: str, course_id: UUID, content_version: int,
                       chunk_count: int, content_hash: str,
                       lessons: list[dict[str, Any]]) -> None:
        self.content_hash = content_hash
        self.chunk_count = chunk_count

    def fail(self, step: str, reason: str, attempts: int) -> None:
        if self.state == FAILED:
            return
        self._check_running("fail")
        self._fail(course_id=self.course_id, content_version=self.content_version, step=step,
                   reason=reason, attempts=attempts)

    @event("Failed")
    def _fail(self, course_id: UUID, content_version: int, step: str, reason: str,
              attempts: int) -> None:
        self.state = FAILED

    def complete(self, chunk_count: int) -> None:
        if self.state == COMPLETED:
            return
        self._check_running("complete")
        self._complete(course_id=self.course_id, content_version=self.content_version,
                       chunk_count=chunk_count)

    @event("Completed")
    def _complete(self, course_id: UUID, content_version: int, chunk_count: int) -> None:
        self.state = COMPLETED
        self.chunk_count = chunk_count
