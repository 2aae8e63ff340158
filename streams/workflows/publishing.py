"""The publishing process manager: course.published -> chunks -> vectors -> index -> ready.

`decide(state, event)` is pure: it returns the workflow's next state and the commands to
carry out, and the runner (streams/workflows/runner.py) feeds each command's outcome back in
as the next event. Commands are write-side messages (sent through the CommandBus) or steps
(chunk, embed, index, drop vectors) done by the runner; a `Wait` asks it to back off.

Invariants the runner relies on:
- A list holds at most one step and it comes last, so a failing step never hides a command.
- Everything issued is idempotent: after a crash, the redelivered course.published restarts an
  unfinished run from the top (chunks are deterministic, vectors are cached, the index is
  upserted by deterministic ids), and a finished run re-issues its final commands.
- Only a step fails softly (retried with bounded exponential backoff, then the workflow fails
  and compensates); a failing write-side command is an outage, left to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from commands.domain.workflow import CANCELLED_STEP
from commands.messages import (
    CompleteWorkflow,
    FailWorkflow,
    MarkCourseReady,
    RecordContentChunked,
    RevertCourseToDraft,
    StartWorkflow,
)
from projections.content.chunking import CHUNKER, Chunk, Lesson, content_hash, lesson_summaries

KIND = "publishing"
QUEUED, CHUNKING, EMBEDDING, INDEXING, READY, FAILED = (
    "QUEUED", "CHUNKING", "EMBEDDING", "INDEXING", "READY", "FAILED")
TERMINAL = (READY, FAILED)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries of one step, the first included
    base_delay: float = 0.5  # seconds before the second try; doubled for each further one
    max_delay: float = 8.0
    max_restarts: int = 3  # redeliveries that found the run unfinished (the worker died)

    def delay(self, failures: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (failures - 1))


@dataclass(frozen=True)
class WorkflowState:
    workflow_id: UUID
    course_id: UUID
    content_version: int
    state: str = QUEUED
    steps: tuple[str, ...] = ()  # done, in order: start, chunk, embed, index, ready
    attempts: int = 0  # failures of the current step
    restarts: int = 0
    chunk_count: int = 0
    computed: int = 0  # vectors the model computed this run (the others came from the cache)
    failed_step: str | None = None
    error: str | None = None
    cleanup_failures: int = 0  # of removing vectors, once finished
    # Not persisted: the content comes with course.published, which every (re)start carries.
    lessons: tuple[Lesson, ...] = field(default=(), compare=False, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def details(self) -> dict[str, Any]:
        """The progress kept beside the state (the `steps` column)."""
        return {"done": list(self.steps), "attempts": self.attempts, "restarts": self.restarts,
                "chunk_count": self.chunk_count, "computed": self.computed,
                "failed_step": self.failed_step, "cleanup_failures": self.cleanup_failures}

    @classmethod
    def restore(cls, workflow_id: UUID, course_id: UUID, content_version: int, state: str,
                details: dict[str, Any], error: str | None) -> WorkflowState:
        return cls(workflow_id, course_id, content_version, state,
                   tuple(details.get("done", ())), details.get("attempts", 0),
                   details.get("restarts", 0), details.get("chunk_count", 0),
                   details.get("computed", 0), details.get("failed_step"), error,
                   details.get("cleanup_failures", 0))


# -- events: what happened ---------------------------------------------------------------------
@dataclass(frozen=True)
class Published:
    """course.published: starts the run (or restarts it, when redelivered)."""

    workflow_id: UUID
    course_id: UUID
    content_version: int
    lessons: tuple[Lesson, ...]


@dataclass(frozen=True)
class Started:
    """workflow.started is recorded."""


@dataclass(frozen=True)
class Chunked:
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True)
class Embedded:
    chunks: tuple[Chunk, ...]
    vectors: Sequence[Sequence[float]]  # one per chunk, in order
    computed: int  # how many the model had to compute


@dataclass(frozen=True)
class Indexed:
    count: int


@dataclass(frozen=True)
class MadeReady:
    """course.ready is recorded for this version (or already was)."""


@dataclass(frozen=True)
class Refused:
    """The course would not become ready: a newer version was published, or it left
    PUBLISHED meanwhile. The run is superseded, not broken."""

    reason: str


# -- steps: what the runner does itself --------------------------------------------------------
@dataclass(frozen=True)
class EndedElsewhere:
    """The run's aggregate failed outside this worker (an operator cancelled it)."""

    reason: str


@dataclass(frozen=True)
class ChunkContent:
    course_id: UUID
    content_version: int
    lessons: tuple[Lesson, ...]


@dataclass(frozen=True)
class EmbedChunks:
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True)
class IndexChunks:
    workflow_id: UUID
    chunks: tuple[Chunk, ...]
    vectors: Sequence[Sequence[float]]


@dataclass(frozen=True)
class DropOldVersions:
    """Remove the course's chunks of every version below `below` (a newer one is ready)."""

    course_id: UUID
    below: int


@dataclass(frozen=True)
class DropVersion:
    """Remove one version's chunks: the partial vectors of a failed run."""

    course_id: UUID
    content_version: int


@dataclass(frozen=True)
class Wait:
    seconds: float


Step = ChunkContent | EmbedChunks | IndexChunks | DropOldVersions | DropVersion
Command = (Step | Wait | StartWorkflow | RecordContentChunked | MarkCourseReady
           | CompleteWorkflow | FailWorkflow | RevertCourseToDraft)


@dataclass(frozen=True)
class StepFailed:
    step: Step
    error: str


Event = (Published | Started | Chunked | Embedded | Indexed | MadeReady | Refused | StepFailed
         | EndedElsewhere)

STEP_NAMES: dict[type, str] = {ChunkContent: "chunk", EmbedChunks: "embed", IndexChunks: "index",
                               DropOldVersions: "cleanup", DropVersion: "cleanup"}
CLEANUP = (DropOldVersions, DropVersion)


def decide(state: WorkflowState | None, event: Event,
           policy: RetryPolicy = RetryPolicy()) -> tuple[WorkflowState, list[Command]]:
    """The next state and what to do; an event that does not fit the state changes nothing."""
    if isinstance(event, Published):
        return _published(state, event, policy)
    if state is None:
        raise ValueError("a publishing workflow starts with course.published")
    s = state
    match event:
        case Started() if s.state == QUEUED:
            return _next(s, CHUNKING, "start"), [
                ChunkContent(s.course_id, s.content_version, s.lessons)]
        case Chunked(chunks) if s.state == CHUNKING:
            return replace(_next(s, EMBEDDING, "chunk"), chunk_count=len(chunks)), [
                RecordContentChunked(s.workflow_id, CHUNKER, len(chunks), content_hash(chunks),
                                     lesson_summaries(chunks)),
                EmbedChunks(chunks)]
        case Embedded(chunks, vectors, computed) if s.state == EMBEDDING:
            return replace(_next(s, INDEXING, "embed"), computed=computed), [
                IndexChunks(s.workflow_id, chunks, vectors)]
        case Indexed() if s.state == INDEXING and "index" not in s.steps:
            return _next(s, INDEXING, "index"), [
                MarkCourseReady(s.course_id, s.content_version, s.workflow_id, s.chunk_count)]
        case MadeReady() if s.state == INDEXING and "index" in s.steps:
            ready = _next(s, READY, "ready")
            return ready, _finish(ready)
        case Refused(reason) if not s.finished:
            failed = replace(s, state=FAILED, failed_step="ready", error=reason, attempts=1)
            return failed, _compensate(failed)
        case EndedElsewhere(reason) if not s.finished:
            # The compensation again (idempotent: the course is a draft already, the run
            # failed already), for the vectors indexed so far.
            failed = replace(s, state=FAILED, failed_step=CANCELLED_STEP, error=reason)
            return failed, _compensate(failed)
        case StepFailed(step, error):
            return _failed(s, step, error, policy)
    return s, []


def _next(state: WorkflowState, to: str, done: str) -> WorkflowState:
    return replace(state, state=to, steps=(*state.steps, done), attempts=0, error=None)


def _published(state: WorkflowState | None, event: Published,
               policy: RetryPolicy) -> tuple[WorkflowState, list[Command]]:
    fresh = WorkflowState(event.workflow_id, event.course_id, event.content_version,
                          lessons=event.lessons)
    if state is None:
        return fresh, [_start(fresh)]
    if state.workflow_id != event.workflow_id:
        raise ValueError("the event belongs to another workflow")
    if state.state == READY:
        return state, _finish(state)  # redelivered after the end: the end again (idempotent)
    if state.state == FAILED:
        return state, _compensate(state)
    if state.restarts >= policy.max_restarts:  # the run keeps killing its worker
        failed = replace(state, state=FAILED, failed_step=_current_step(state),
                         error=f"interrupted {state.restarts + 1} times; giving up")
        return failed, _compensate(failed)
    restarted = replace(fresh, restarts=state.restarts + 1)
    return restarted, [_start(restarted)]


def _failed(state: WorkflowState, step: Step, error: str,
            policy: RetryPolicy) -> tuple[WorkflowState, list[Command]]:
    name = STEP_NAMES[type(step)]
    if state.finished:
        return _cleanup_failed(state, step, error, policy)
    attempts = state.attempts + 1
    if attempts < policy.attempts:
        return replace(state, attempts=attempts, error=f"{name}: {error}"), [
            Wait(policy.delay(attempts)), step]
    failed = replace(state, state=FAILED, failed_step=name, attempts=attempts,
                     error=f"{name} failed {attempts} times: {error}")
    return failed, _compensate(failed)


def _cleanup_failed(state: WorkflowState, step: Step, error: str,
                    policy: RetryPolicy) -> tuple[WorkflowState, list[Command]]:
    """Removing vectors after the end: retried, then left (search never shows a version that
    is not ready, and the course's next ready version sweeps every older one)."""
    if not isinstance(step, CLEANUP):
        return state, []
    failures = state.cleanup_failures + 1
    note = f"cleanup failed {failures} times: {error}"
    error_text = f"{state.error}; {note}" if state.state == FAILED else note
    if failures < policy.attempts:
        return replace(state, cleanup_failures=failures), [Wait(policy.delay(failures)), step]
    return replace(state, cleanup_failures=failures, error=error_text), []


def _start(state: WorkflowState) -> StartWorkflow:
    return StartWorkflow(state.workflow_id, KIND, state.course_id, state.content_version)


def _finish(state: WorkflowState) -> list[Command]:
    return [CompleteWorkflow(state.workflow_id, state.chunk_count),
            DropOldVersions(state.course_id, below=state.content_version)]


def _compensate(state: WorkflowState) -> list[Command]:
    """Undo the publish (unless the course moved on), record why, remove partial vectors."""
    reason = state.error or "failed"
    revert: list[Command] = [] if state.failed_step == "ready" else [
        RevertCourseToDraft(state.course_id, state.workflow_id, reason)]
    return [*revert, FailWorkflow(state.workflow_id, state.failed_step or "unknown", reason,
                                  state.attempts),
            DropVersion(state.course_id, state.content_version)]


def _current_step(state: WorkflowState) -> str:
    return {QUEUED: "start", CHUNKING: "chunk", EMBEDDING: "embed",
            INDEXING: "index" if "index" not in state.steps else "ready"}.get(state.state, "start")
