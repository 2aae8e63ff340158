"""Carries out what the enrollment process manager decides, and keeps its timers.

Events of one aggregate are handled in order; different aggregates concurrently (the command
bus commits them in groups), so a burst is worked off at the pace the write side takes,
while the consumer holds back what it has not acknowledged (backpressure). Each command is
sent as the platform's system actor, caused by the event, with the event's correlation.

A command that loses races or meets an outage is retried with exponential backoff and full
jitter; past the last attempt the error propagates (the batch is not acknowledged, Kafka
redelivers it). A refusal (a SmartCourseError on fresh state) is final: the step's
compensation runs, and the refusal is logged and counted.

Timers: the runner keeps `enrollment_workflow.timers` from the reminder facts it sees
(scheduled, fired, and the enrollment's end, which cancels them) — a table rebuilt from the
event store like any projection — and `fire_due` fires the reminders due at a given time
(the clock is a parameter: tests pass a time days ahead).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

import psycopg
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from commands.adapters.event_store import StoredEvent
from commands.bus import CommandBus
from commands.domain.course import Course
from commands.domain.errors import ConcurrencyConflict, SmartCourseError
from commands.domain.ids import NAMESPACE
from commands.messages import Actor, FireReminder
from projections import progress_snapshot
from smartcourse.observability import tracing
from streams.workflows.enrollment import KINDS, Backoff, course_start_moved, decide

log = logging.getLogger("smartcourse.workflows.enrollment")

SYSTEM = Actor(user_id=uuid5(NAMESPACE, "actor:enrollment-workflow"), role="system")
TRANSIENT = (ConcurrencyConflict, psycopg.OperationalError, psycopg.InterfaceError, OSError)
STEPS = Counter("smartcourse_enrollment_workflow_commands_total",
                "Commands the enrollment workflow sent, by command and outcome",
                ["command", "outcome"])

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS enrollment_workflow;
CREATE TABLE IF NOT EXISTS enrollment_workflow.timers (
    reminder_id   uuid PRIMARY KEY,
    enrollment_id uuid NOT NULL,
    kind          text NOT NULL,
    due_at        timestamptz NOT NULL,
    state         text NOT NULL,  -- SCHEDULED | FIRED | CANCELLED | REPLACED
    position      bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_due ON enrollment_workflow.timers (due_at)
    WHERE state = 'SCHEDULED';
"""
ENDED = ("enrollment.completed", "enrollment.cancelled")


async def ensure_workflow_schema(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('enrollment_workflow'))")
        await conn.execute(SCHEMA)


@dataclass
class EnrollmentWorkflow:
    bus: CommandBus
    pool: AsyncConnectionPool
    inactive_after: timedelta = timedelta(days=7)
    backoff: Backoff = field(default_factory=Backoff)
    actor: Actor = SYSTEM
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    redis: Any = None  # the progress snapshot's store (projections/progress_snapshot.py)
    start_lead: timedelta = timedelta(hours=48)  # "course starting soon": this long before
    _traces: Mapping[UUID, str] = field(default_factory=dict)

    async def handle_all(self, events: Iterable[StoredEvent],
                         traces: Mapping[UUID, str] | None = None) -> int:
        """Handle a batch: per aggregate in order, aggregates concurrently. Returns how many
        events asked for something. `traces` (event id -> traceparent) puts each event's
        handling, and so the events its commands append, into the event's trace."""
        self._traces = traces or {}
        by_aggregate: dict[Any, list[StoredEvent]] = defaultdict(list)
        for event in events:
            kind = event.event_type
            if kind in KINDS or kind in ENDED or kind in progress_snapshot.KINDS \
                    or kind.startswith("enrollment.reminder_"):
                by_aggregate[event.aggregate_id].append(event)
        counts = await asyncio.gather(*(self._in_order(chain) for chain in by_aggregate.values()))
        return sum(counts)

    async def _in_order(self, chain: list[StoredEvent]) -> int:
        handled = 0
        for event in chain:
            span = tracing.child_span(f"workflow enrollment {event.event_type}",
                                      self._traces.get(event.event_id), SpanKind.CONSUMER,
                                      {"smartcourse.aggregate_id": str(event.aggregate_id)})
            with trace.use_span(span, end_on_exit=True) if span else nullcontext():
                await self._keep_timers(event)
                if self.redis is not None:
                    await progress_snapshot.keep(self.redis, event)
                if event.event_type == "course.start_date_changed":
                    course = await self.bus.peek(Course, event.aggregate_id)
                    seats = sorted(course.seats) if course is not None else []
                    steps = course_start_moved(event, seats, self.start_lead)
                else:
                    steps = decide(event, self.inactive_after, self.start_lead)
                for step in steps:
                    await self._carry_out(step.command, step.undo, event)
            handled += bool(steps)
        return handled

    async def _carry_out(self, command: Any, undo: Any | None, cause: StoredEvent) -> None:
        name = type(command).__name__
        for attempt in range(1, self.backoff.attempts + 1):
            try:
                await self.bus.execute(command, self.actor, correlation_id=cause.correlation_id,
                                       causation_id=cause.event_id)
                STEPS.labels(name, "done").inc()
                return
            except TRANSIENT as error:
                if attempt == self.backoff.attempts:
                    STEPS.labels(name, "gave_up").inc()
                    raise
                delay = self.backoff.delay(attempt, self.rng)
                log.warning("enrollment workflow command failed; retrying", extra={
                    "command": name, "attempt": attempt, "delay": round(delay, 3),
                    "error": str(error), "correlation_id": str(cause.correlation_id)})
                await self.sleep(delay)
            except SmartCourseError as refusal:
                STEPS.labels(name, "refused").inc()
                log.error("enrollment workflow command refused", extra={
                    "command": name, "code": refusal.code, "error": refusal.message,
                    "aggregate_id": str(cause.aggregate_id),
                    "correlation_id": str(cause.correlation_id),
                    "compensation": type(undo).__name__ if undo else None})
                if undo is not None:
                    await self._carry_out(undo, None, cause)
                return

    # -- durable timers ---------------------------------------------------------------------
    async def _keep_timers(self, event: StoredEvent) -> None:
        p = event.payload
        async with self.pool.connection() as conn, conn.transaction():
            if event.event_type == "enrollment.reminder_scheduled":
                await conn.execute(
                    "UPDATE enrollment_workflow.timers SET state = 'REPLACED' WHERE"
                    " enrollment_id = %s AND kind = %s AND state = 'SCHEDULED'"
                    " AND reminder_id <> %s", [event.aggregate_id, p["kind"], p["reminder_id"]])
                await conn.execute(
                    "INSERT INTO enrollment_workflow.timers VALUES (%s, %s, %s, %s, 'SCHEDULED',"
                    " %s) ON CONFLICT (reminder_id) DO NOTHING",
                    [p["reminder_id"], event.aggregate_id, p["kind"], p["due_at"],
                     event.position])
            elif event.event_type == "enrollment.reminder_fired":
                await conn.execute("UPDATE enrollment_workflow.timers SET state = 'FIRED'"
                                   " WHERE reminder_id = %s", [p["reminder_id"]])
            elif event.event_type in ENDED:
                await conn.execute("UPDATE enrollment_workflow.timers SET state = 'CANCELLED'"
                                   " WHERE enrollment_id = %s AND state = 'SCHEDULED'",
                                   [event.aggregate_id])

    async def fire_due(self, now: datetime, limit: int = 1000) -> int:
        """Fire every scheduled reminder due at `now`; the aggregate fires each once (a
        second call, or a second worker, finds it fired). Returns how many it asked."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT reminder_id, enrollment_id FROM enrollment_workflow.timers"
                " WHERE state = 'SCHEDULED' AND due_at <= %s ORDER BY due_at LIMIT %s",
                [now, limit])).fetchall()
        for reminder, enrollment in rows:
            try:
                await self.bus.execute(FireReminder(enrollment, reminder, now.isoformat()),
                                       self.actor)
            except SmartCourseError as refusal:
                log.warning("reminder not fired", extra={"reminder_id": str(reminder),
                                                          "code": refusal.code})
            async with self.pool.connection() as conn:
                # Fired (or refused: the enrollment ended); the event confirms it later.
                await conn.execute("UPDATE enrollment_workflow.timers SET state = 'FIRED'"
                                   " WHERE reminder_id = %s AND state = 'SCHEDULED'", [reminder])
        return len(rows)
