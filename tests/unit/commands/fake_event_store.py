"""An in-memory event store with the PostgreSQL store's signatures and concurrency contract."""

from __future__ import annotations

import asyncio
import json
import types
from collections.abc import Collection, Generator, Mapping, Sequence
from uuid import UUID

from commands.adapters.event_store import Metadata, StoredEvent, StreamAppend, failed
from commands.domain.errors import ConcurrencyConflict


@types.coroutine
def _let_other_tasks_run() -> Generator[None, None, None]:
    """Suspend once, as a round trip to the database would; no time passes."""
    yield


class FakeEventStore:
    """A commit is all-or-nothing and refused if any stream moved past its expected version.

    Payloads are stored through JSON, as in the real store's jsonb column.
    """

    def __init__(self) -> None:
        self.events: list[StoredEvent] = []  # the global order: position n is events[n - 1]
        self._streams: dict[UUID, list[StoredEvent]] = {}
        self.conflicts = 0  # commits refused for a stale expected version

    async def load(self, aggregate_id: UUID, after_version: int = 0) -> list[StoredEvent]:
        await _let_other_tasks_run()
        return [e for e in self._streams.get(aggregate_id, []) if e.version > after_version]

    async def head(self) -> int:
        return len(self.events)

    def submit(self, streams: Sequence[StreamAppend], metadata: Metadata,
               reads: Mapping[UUID, int] | None = None,
               after: Collection[asyncio.Future[int]] = ()) -> asyncio.Future[int]:
        """Queued now, written in submission order (tasks start in the order created)."""
        return asyncio.ensure_future(self.append(streams, metadata, reads, after))

    async def append(self, streams: Sequence[StreamAppend], metadata: Metadata,
                     reads: Mapping[UUID, int] | None = None,
                     after: Collection[asyncio.Future[int]] = ()) -> int:
        await _let_other_tasks_run()
        # No await from here on: the check and the write are one step, as under the real lock.
        if any(failed(f) for f in after) or any(
                self._version(s.aggregate_id) != s.expected_version for s in streams) or any(
                self._version(r) != v for r, v in (reads or {}).items()):
            self.conflicts += 1
            raise ConcurrencyConflict("the aggregate changed meanwhile; reload and retry",
                                      "concurrency_conflict")
        for stream in streams:
            versions = [e.version for e in stream.events]
            first = stream.expected_version + 1
            if versions != list(range(first, first + len(versions))):
                raise ValueError(f"versions {versions} do not follow {stream.expected_version}")
        for stream in streams:
            for new in stream.events:
                stored = StoredEvent(
                    position=len(self.events) + 1, event_id=new.event_id,
                    aggregate_type=stream.aggregate_type, aggregate_id=stream.aggregate_id,
                    version=new.version, event_type=new.event_type, schema_version=1,
                    payload=json.loads(json.dumps(new.payload)), occurred_at=new.occurred_at,
                    actor=metadata.actor, correlation_id=metadata.correlation_id,
                    causation_id=metadata.causation_id,
                )
                self.events.append(stored)
                self._streams.setdefault(stream.aggregate_id, []).append(stored)
        return len(self.events)

    def _version(self, aggregate_id: UUID) -> int:
        stream = self._streams.get(aggregate_id)
        return stream[-1].version if stream else 0
