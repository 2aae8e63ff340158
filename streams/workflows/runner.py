"""Carries out what the publishing process manager decides, and feeds the outcomes back.

One `course.published` is handled start to finish: decide, save the state, do the commands
(write-side messages through the CommandBus as the platform's system actor, with the
triggering event as causation and its correlation carried over; steps against the embedder
and the Weaviate index), and decide again on each outcome until nothing is left to do.

Failures: a step's exception becomes `StepFailed` (the decision retries with backoff, then
fails the workflow and compensates). A refused `MarkCourseReady` becomes `Refused`. Any other
error (PostgreSQL or the event store unreachable) propagates: the event is not acknowledged
and its redelivery restarts the run, which every command tolerates.

Tracing: a run is a span in the trace of its `course.published` (the traceparent its Kafka
message carries), each step a child span, and the events its commands append join the trace.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from commands.adapters.event_store import StoredEvent
from commands.bus import CommandBus
from commands.domain.errors import ConcurrencyConflict, SmartCourseError
from commands.domain.ids import NAMESPACE
from commands.messages import Actor, MarkCourseReady, StartWorkflow
from projections.content.chunking import Lesson, chunk_course
from projections.content.embeddings import Embedder
from projections.content.published import ContentUnavailable, PublishedContent
from projections.content.store import index_lock
from projections.content.weaviate_index import ChunkIndex
from smartcourse.observability import tracing
from streams.workflows.publishing import (
    ChunkContent,
    Chunked,
    DropOldVersions,
    DropVersion,
    EmbedChunks,
    Embedded,
    EndedElsewhere,
    Event,
    IndexChunks,
    Indexed,
    MadeReady,
    Published,
    Refused,
    RetryPolicy,
    Started,
    StepFailed,
    Wait,
    WorkflowState,
    decide,
)
from streams.workflows.state import WorkflowStore

log = logging.getLogger("smartcourse.workflows.publishing")

PUBLISHED = "course.published"
SYSTEM = Actor(user_id=uuid5(NAMESPACE, "actor:publishing-workflow"), role="system")
STEPS = (ChunkContent, EmbedChunks, IndexChunks, DropOldVersions, DropVersion)


def published_from(event: StoredEvent) -> Published:
    payload = event.payload
    return Published(
        workflow_id=UUID(str(payload["workflow_id"])), course_id=event.aggregate_id,
        content_version=int(payload["content_version"]),
        lessons=tuple(Lesson.from_payload(item) for item in payload["lessons"]))


@dataclass
class PublishingWorkflow:
    """The publishing workflow with its adapters (built by `streams.workflows.wiring`)."""

    bus: CommandBus
    store: WorkflowStore
    embedder: Embedder
    index: ChunkIndex
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    actor: Actor = SYSTEM
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    content: PublishedContent | None = None  # reads lessons published by reference

    async def handle(self, event: StoredEvent,
                     traceparent: str | bytes | None = None) -> WorkflowState | None:
        """Run the workflow a course.published starts; other events are not its business.
        `traceparent`: the trace the event's message carries (the run's span joins it)."""
        if event.event_type != PUBLISHED:
            return None
        span = tracing.child_span("workflow publishing", traceparent, SpanKind.CONSUMER, {
            "smartcourse.aggregate_id": str(event.aggregate_id),
            "smartcourse.workflow_id": str(event.payload.get("workflow_id", ""))})
        with trace.use_span(span, end_on_exit=True) if span else nullcontext():
            state = await self._run(event)
            if span is not None:
                span.set_attribute("smartcourse.workflow_state", state.state)
        return state

    async def _run(self, event: StoredEvent) -> WorkflowState:
        published = published_from(event)
        # Shared with other runs; a Weaviate rebuild takes it alone to switch collections.
        async with index_lock(self.store.pool, self.index.alias, shared=True):
            state = await self.store.load(published.workflow_id)
            pending: deque[Event] = deque([published])
            while pending:
                state, commands = decide(state, pending.popleft(), self.policy)
                await self.store.save(state)
                for command in commands:
                    ended = None if state.finished else await self._ended_elsewhere(state)
                    if ended is not None:  # the rest of this step's commands would be refused
                        pending = deque([ended])
                        break
                    outcome = await self._carry_out(command, event)
                    if outcome is not None:
                        pending.append(outcome)
        log.info("publishing workflow handled", extra={
            "workflow_id": str(published.workflow_id), "state": state.state,
            "correlation_id": str(event.correlation_id), "error": state.error})
        return state

    async def _ended_elsewhere(self, state: WorkflowState) -> EndedElsewhere | None:
        """The run's end if its aggregate failed while this worker carried it (an operator
        cancelled it): checked before each command, so a long run stops at its next step."""
        history = await self.bus.store.load(state.workflow_id)
        failed = next((e for e in history if e.event_type == "workflow.failed"), None)
        return EndedElsewhere(str(failed.payload.get("reason", ""))) if failed else None

    async def _carry_out(self, command: Any, cause: StoredEvent) -> Event | None:
        if isinstance(command, Wait):
            await self.sleep(command.seconds)
            return None
        if isinstance(command, STEPS):
            name = type(command).__name__
            # A child of the run's span (current here), or none when the run has no trace.
            words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()  # Zipkin lower-cases names
            span = (tracing.tracer().start_span(f"publishing {words}")
                    if trace.get_current_span().get_span_context().is_valid else None)
            with trace.use_span(span, end_on_exit=True) if span else nullcontext():
                try:
                    return await self._step(command)
                except Exception as error:  # noqa: BLE001 - recorded, retried, then compensated
                    log.warning("publishing step failed", exc_info=error, extra={
                        "step": name, "correlation_id": str(cause.correlation_id)})
                    if span is not None:
                        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}"))
                    return StepFailed(command, f"{type(error).__name__}: {error}"[:500])
        try:
            await self.bus.execute(command, self.actor, correlation_id=cause.correlation_id,
                                   causation_id=cause.event_id)
        except ConcurrencyConflict:
            raise  # lost every race for the aggregate: an outage, not a refusal
        except SmartCourseError as error:
            if isinstance(command, MarkCourseReady):
                return Refused(f"{error.code}: {error.message}")
            raise
        if isinstance(command, StartWorkflow):
            return Started()
        if isinstance(command, MarkCourseReady):
            return MadeReady()
        return None

    async def _step(self, step: Any) -> Event | None:
        match step:
            case ChunkContent(course_id, version, lessons):
                if self.content is not None:
                    lessons = await self.content.lessons(course_id, version, lessons)
                elif any(lesson.content is None for lesson in lessons):
                    raise ContentUnavailable("lessons by reference and no store to read them")
                return Chunked(tuple(chunk_course(course_id, version, lessons)))
            case EmbedChunks(chunks):
                vectors, computed = await self.embedder.embed(chunks)
                return Embedded(chunks, vectors, computed)
            case IndexChunks(workflow_id, chunks, vectors):
                return Indexed(await self.index.upsert(chunks, vectors, workflow_id))
            case DropOldVersions(course_id, below):
                await self.index.delete_below(course_id, below)
            case DropVersion(course_id, version):
                await self.index.delete_version(course_id, version)
        return None
