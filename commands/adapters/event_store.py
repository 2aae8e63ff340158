"""The PostgreSQL event store: loads streams and appends commits with group commit.

Every append holds one transaction-scoped advisory lock while it assigns global positions
and until it commits, which keeps the global order gap-free and equal to commit order (the
relay can follow it without ever skipping a late commit). One lock per transaction caps a
naive store at a few hundred transactions a second, so concurrent commits are grouped: while
one transaction is in flight, the next ones queue and go together in the following one. No
delay is added: at low load a batch is a single commit.
"""

from __future__ import annotations

import asyncio
import json
from base64 import b64encode
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib.resources import files
from typing import Any, Protocol
from uuid import UUID

from prometheus_client import Counter
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from commands.domain.errors import ConcurrencyConflict, RuleViolated
from smartcourse.observability.tracing import current_traceparent

APPEND_LOCK = 7_201_001  # advisory lock key that serialises appends
NOTIFY_CHANNEL = "event_store_appended"
MAX_BATCH = 500
UNENCODED = Counter("smartcourse_event_store_unencoded_total",
                    "Events appended without their published bytes (the relay encodes them):"
                    " no encoder (registry unavailable) or the event did not fit its contract",
                    ["why"])


class EventTooLarge(RuleViolated):
    """An event above the store's size limit: refused before it could reach Kafka."""

    code = "event.too_large"


@dataclass(frozen=True)
class NewEvent:
    event_id: UUID
    event_type: str
    version: int
    payload: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class StreamAppend:
    """New events for one aggregate, valid only if it is still at `expected_version`."""

    aggregate_type: str
    aggregate_id: UUID
    expected_version: int
    events: Sequence[NewEvent]


@dataclass(frozen=True)
class Metadata:
    actor: str | None
    correlation_id: UUID
    causation_id: UUID | None = None
    # The W3C traceparent of the request that appended (stored with each event, so the relay
    # and the consumers continue its trace); None without tracing.
    trace_parent: str | None = None


@dataclass
class Commit:
    """All appends of one command: they succeed or fail together, and only if every
    aggregate the command read is still at the version it read (serializable commands) and
    every commit it built on (`after`) succeeded.

    Versions alone cannot tell a command built on a predecessor that then failed: another
    process may have filled the very versions the predecessor claimed, with other content."""

    streams: Sequence[StreamAppend]
    metadata: Metadata
    reads: Mapping[UUID, int]
    after: Collection[asyncio.Future[int]] = ()
    done: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def built_on_a_failure(self) -> bool:
        """Predecessors are written first: each is settled, or accepted earlier in this
        batch (and then fails only if the whole batch does)."""
        return any(failed(f) for f in self.after)


def failed(outcome: asyncio.Future[int]) -> bool:
    """Whether a submitted commit is known to have failed."""
    return outcome.done() and (outcome.cancelled() or outcome.exception() is not None)


@dataclass(frozen=True)
class StoredEvent:
    position: int
    event_id: UUID
    aggregate_type: str
    aggregate_id: UUID
    version: int
    event_type: str
    schema_version: int
    payload: dict[str, Any]
    occurred_at: datetime
    actor: str | None
    correlation_id: UUID
    causation_id: UUID | None


COLUMNS = (
    "position, event_id, aggregate_type, aggregate_id, version, event_type, schema_version,"
    " payload, occurred_at, actor, correlation_id, causation_id"
)


# One statement for the whole batch: rows travel as one JSON document (cheaper to send than
# a dozen typed arrays), and the notification that wakes the relay rides along.
INSERT_ROWS = f"""
WITH appended AS (
    INSERT INTO event_store.events ({COLUMNS}, encoded, trace_parent)
    SELECT position, event_id, aggregate_type, aggregate_id, version, event_type, 1, payload,
           occurred_at, actor, correlation_id, causation_id, decode(encoded, 'base64'),
           trace_parent
    FROM jsonb_to_recordset(%s::jsonb) AS r(
        position bigint, event_id uuid, aggregate_type text, aggregate_id uuid, version int,
        event_type text, payload jsonb, occurred_at timestamptz, actor text,
        correlation_id uuid, causation_id uuid, encoded text, trace_parent text)
    RETURNING 1
)
SELECT pg_notify('{NOTIFY_CHANNEL}', (SELECT count(*) FROM appended)::text)
"""


# Each stream's version, from the last entry of its index: a GROUP BY over `aggregate_id =
# ANY(...)` reads every version of every stream instead, and under the append lock that cost
# grows with the streams (2 ms for five courses of ~4,400 events, against 0.1 ms).
CURRENT_VERSIONS = """
SELECT a.id, (SELECT max(version) FROM event_store.events e WHERE e.aggregate_id = a.id)
FROM unnest(%s::uuid[]) AS a(id)
"""

# Many streams in one query: request n's rows carry n (requests may repeat an aggregate).
LOAD_MANY = """
SELECT w.request, e.position, e.event_id, e.aggregate_type, e.aggregate_id, e.version,
       e.event_type, e.schema_version, e.payload, e.occurred_at, e.actor, e.correlation_id,
       e.causation_id
FROM unnest(%s::uuid[], %s::int[]) WITH ORDINALITY AS w(aggregate_id, after_version, request)
JOIN event_store.events e ON e.aggregate_id = w.aggregate_id AND e.version > w.after_version
ORDER BY w.request, e.version
"""


@dataclass
class _Load:
    aggregate_id: UUID
    after_version: int
    done: asyncio.Future[list[StoredEvent]]


def schema_sql() -> str:
    return files("commands.adapters").joinpath("schema.sql").read_text()


async def ensure_schema(conn: AsyncConnection) -> None:
    await conn.execute(schema_sql())


class NewEventEncoder(Protocol):
    """Encodes an appended event as the relay publishes it (avro_contracts.EventEncoder)."""

    def encode_new(self, event: StoredEvent) -> bytes | None: ...


class FaultHook(Protocol):
    """Injects faults before a write, when an operator asked for them (chaos)."""

    async def hit(self, dependency: str) -> None: ...


class EventStore:
    def __init__(self, pool: AsyncConnectionPool, encoder: NewEventEncoder | None = None,
                 max_event_bytes: int = 512_000) -> None:
        self.pool = pool
        self.max_event_bytes = max_event_bytes  # well below Kafka's 1 MB message limit
        self.encoder = encoder  # None: rows are stored without bytes; the relay encodes them
        self.faults: FaultHook | None = None  # chaos (smartcourse/observability/chaos.py)
        self._queue: asyncio.Queue[Commit] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._loads: list[_Load] = []
        self._loader: asyncio.Task[None] | None = None

    # -- reading ---------------------------------------------------------------------------
    async def load(self, aggregate_id: UUID, after_version: int = 0) -> list[StoredEvent]:
        """The aggregate's events after `after_version`. Loads requested together share one
        query: under load most commands load an aggregate that is not cached yet (a new
        enrollment's id), and a round trip each would cost more than the command itself."""
        request = _Load(aggregate_id, after_version,
                        asyncio.get_running_loop().create_future())
        self._loads.append(request)
        if self._loader is None or self._loader.done():
            self._loader = asyncio.create_task(self._load_batches(), name="event-store-loader")
        return await request.done

    async def _load_batches(self) -> None:
        while self._loads:
            batch, self._loads = self._loads, []
            try:
                found = await self._load_many(batch)
            except Exception as error:  # noqa: BLE001 - every waiter must hear of the failure
                for request in batch:
                    if not request.done.done():
                        request.done.set_exception(error)
                continue
            for n, request in enumerate(batch):
                if not request.done.done():  # its command may have been cancelled
                    request.done.set_result(found.get(n, []))

    async def _load_many(self, batch: list[_Load]) -> dict[int, list[StoredEvent]]:
        found: dict[int, list[StoredEvent]] = {}
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(LOAD_MANY, [[r.aggregate_id for r in batch],
                                          [r.after_version for r in batch]])
            for row in await cur.fetchall():
                found.setdefault(row.pop("request") - 1, []).append(StoredEvent(**row))
        return found

    async def head(self) -> int:
        """The position of the last committed event (0 for an empty store)."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT coalesce(max(position), 0) FROM event_store.events")).fetchone()
            return row[0]

    # -- writing ---------------------------------------------------------------------------
    async def append(self, streams: Sequence[StreamAppend], metadata: Metadata,
                     reads: Mapping[UUID, int] | None = None) -> int:
        """Append atomically; returns the global position of the last event written.

        Raises ConcurrencyConflict if any stream, or any aggregate in `reads` (id -> the
        version the command saw), is no longer at the version expected.
        """
        return await self.submit(streams, metadata, reads)

    def submit(self, streams: Sequence[StreamAppend], metadata: Metadata,
               reads: Mapping[UUID, int] | None = None,
               after: Collection[asyncio.Future[int]] = ()) -> asyncio.Future[int]:
        """Queue a commit now and return its outcome as a future. Commits are written in
        the order they were submitted, so a command may build on submitted ones (`after`,
        their futures): it fails if any of them does."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_batches(), name="event-store-writer")
        if metadata.trace_parent is None and (trace_parent := current_traceparent()):
            metadata = replace(metadata, trace_parent=trace_parent)
        commit = Commit(streams, metadata, reads or {}, after)
        self._queue.put_nowait(commit)
        return commit.done

    async def close(self) -> None:
        if self._loader is not None:
            self._loader.cancel()
            await asyncio.gather(self._loader, return_exceptions=True)
            self._loader = None
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
            self._queue = None

    async def _write_batches(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            try:
                if self.faults is not None:
                    await self.faults.hit("postgres")
                await self._commit_batch(batch)
            except Exception as error:  # noqa: BLE001 - every waiter must hear of the failure
                for commit in batch:
                    _settle(commit, error=error)

    async def _commit_batch(self, batch: list[Commit]) -> None:
        accepted: list[tuple[Commit, int]] = []
        ids = list({s.aggregate_id for c in batch for s in c.streams}
                   | {r for c in batch for r in c.reads})
        # Pipelined: BEGIN, the lock and both reads travel in one round trip, the insert and
        # COMMIT in a second (a batch's fixed cost, paid per command at low load).
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
            current = await conn.execute(CURRENT_VERSIONS, [ids])
            head = await conn.execute("SELECT coalesce(max(position), 0) FROM event_store.events")
            versions: dict[UUID, int] = {
                aggregate_id: version for aggregate_id, version in await current.fetchall()
                if version is not None}
            position = (await head.fetchone())[0]
            rows: list[dict[str, Any]] = []
            for commit in batch:
                if commit.built_on_a_failure() or any(
                        versions.get(s.aggregate_id, 0) != s.expected_version
                        for s in commit.streams) or any(
                        versions.get(r, 0) != v for r, v in commit.reads.items()):
                    _settle(commit, error=ConcurrencyConflict(
                        "the aggregate changed meanwhile; reload and retry",
                        "concurrency_conflict"))
                    continue
                meta = commit.metadata
                correlation_id = str(meta.correlation_id)
                causation_id = str(meta.causation_id) if meta.causation_id else None
                ours: list[dict[str, Any]] = []
                last = position
                for stream in commit.streams:
                    aggregate_id = str(stream.aggregate_id)
                    for event in stream.events:
                        last += 1
                        row = {
                            "position": last, "event_id": str(event.event_id),
                            "aggregate_type": stream.aggregate_type,
                            "aggregate_id": aggregate_id, "version": event.version,
                            "event_type": event.event_type, "payload": event.payload,
                            "occurred_at": event.occurred_at.isoformat(), "actor": meta.actor,
                            "correlation_id": correlation_id, "causation_id": causation_id,
                        }
                        if meta.trace_parent is not None:
                            row["trace_parent"] = meta.trace_parent
                        if self.encoder is not None:
                            row["encoded"] = self._encoded(StoredEvent(
                                position=last, event_id=event.event_id,
                                aggregate_type=stream.aggregate_type,
                                aggregate_id=stream.aggregate_id, version=event.version,
                                event_type=event.event_type, schema_version=1,
                                payload=event.payload, occurred_at=event.occurred_at,
                                actor=meta.actor, correlation_id=meta.correlation_id,
                                causation_id=meta.causation_id))
                        ours.append(row)
                oversized = self._oversized(ours)
                if oversized is not None:
                    _settle(commit, error=oversized)
                    continue
                for stream in commit.streams:
                    versions[stream.aggregate_id] = stream.expected_version + len(stream.events)
                rows.extend(ours)
                position = last
                accepted.append((commit, position))
            if rows:
                if self.encoder is None:
                    UNENCODED.labels("no_encoder").inc(len(rows))
                await conn.execute(INSERT_ROWS, [json.dumps(rows)])
        for commit, last_position in accepted:
            _settle(commit, position=last_position)


    def _oversized(self, rows: list[dict[str, Any]]) -> EventTooLarge | None:
        """The refusal of a commit holding an event larger than `max_event_bytes` (its
        published form when encoded, else its JSON payload), or None."""
        for row in rows:
            encoded = row.get("encoded")
            size = (len(encoded) * 3 // 4 if encoded is not None
                    else len(json.dumps(row["payload"])))
            if size > self.max_event_bytes:
                return EventTooLarge(
                    f"the {row['event_type']} event would take {size} bytes, more than the "
                    f"{self.max_event_bytes} an event may", "event.too_large",
                    limit=self.max_event_bytes, size=size)
        return None

    def _encoded(self, event: StoredEvent) -> str | None:
        """The event's published form (base64, for the JSON document), or None."""
        assert self.encoder is not None
        encoded = self.encoder.encode_new(event)
        if encoded is None:
            UNENCODED.labels("encode_failed").inc()
            return None
        return b64encode(encoded).decode()


def _settle(commit: Commit, position: int | None = None,
            error: BaseException | None = None) -> None:
    """Tell the waiter; it may have gone (a cancelled request), and that must not stop us."""
    if commit.done.done():
        return
    if error is not None:
        commit.done.set_exception(error)
    else:
        commit.done.set_result(position)
