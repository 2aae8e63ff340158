"""Unit of work: loads aggregates, tracks what a command changed, commits it atomically.

Aggregates come from a per-process cache of committed state, caught up from the store on
each load; a command works on forks, so a failed or conflicting command leaves the cache
untouched. `run_command` retries a command that lost an optimistic-concurrency race.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from commands.adapters.event_codec import decode_event, event_type_of, payload_of
from commands.adapters.event_store import EventStore, Metadata, NewEvent, StreamAppend
from commands.domain.base import AggregateRoot
from commands.domain.errors import ConcurrencyConflict, NotFound
from commands.domain.ids import event_id

A = TypeVar("A", bound=AggregateRoot)
R = TypeVar("R")
MAX_ATTEMPTS = 50  # enough for 50 writers racing on one aggregate


@dataclass
class Cached:
    aggregate: AggregateRoot
    position: int  # global position of its last event: the consistency token


class AggregateCache:
    """Committed aggregates by id, least recently used evicted first."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[UUID, Cached] = OrderedDict()

    def get(self, aggregate_id: UUID) -> Cached | None:
        item = self._items.get(aggregate_id)
        if item is not None:
            self._items.move_to_end(aggregate_id)
        return item

    def put(self, aggregate_id: UUID, item: Cached) -> None:
        self._items[aggregate_id] = item
        self._items.move_to_end(aggregate_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


@dataclass(frozen=True)
class CommandResult:
    aggregate_id: UUID
    position: int  # consistency token: read models past it reflect this command
    correlation_id: UUID
    changed: bool  # False when the command was a no-op (e.g. a repeated enroll)
    state: str | None = None  # the primary aggregate's lifecycle state after the command


class UnitOfWork:
    def __init__(self, store: EventStore, cache: AggregateCache, metadata: Metadata) -> None:
        self.store = store
        self.cache = cache
        self.metadata = metadata
        self._tracked: dict[UUID, tuple[AggregateRoot, int]] = {}  # fork, version at load

    async def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        if aggregate_id in self._tracked:
            return self._tracked[aggregate_id][0]  # type: ignore[return-value]
        cached = await self._load(aggregate_id)
        if cached is None:
            return None
        if not isinstance(cached.aggregate, cls):
            return None
        fork = cached.aggregate.fork()
        self._tracked[aggregate_id] = (fork, fork.version)
        return fork

    async def get(self, cls: type[A], aggregate_id: UUID) -> A:
        found = await self.find(cls, aggregate_id)
        if found is None:
            raise NotFound(f"no {cls.type_name} {aggregate_id}", f"{cls.type_name}.not_found")
        return found

    def add(self, aggregate: AggregateRoot) -> None:
        self._tracked[aggregate.id] = (aggregate, 0)

    def position_of(self, aggregate_id: UUID) -> int:
        cached = self.cache.get(aggregate_id)
        return cached.position if cached else 0

    async def commit(self, primary: AggregateRoot) -> CommandResult:
        """Append every tracked aggregate's new events in one transaction."""
        streams = []
        for aggregate, loaded_version in self._tracked.values():
            pending = aggregate.collect_events()
            if not pending:
                continue
            streams.append(StreamAppend(
                aggregate_type=aggregate.type_name,
                aggregate_id=aggregate.id,
                expected_version=loaded_version,
                events=[
                    NewEvent(
                        event_id=event_id(aggregate.id, e.originator_version),
                        event_type=event_type_of(e),
                        version=e.originator_version,
                        payload=payload_of(e),
                        occurred_at=e.timestamp,
                    )
                    for e in pending
                ],
            ))
        state = getattr(primary, "state", None) or getattr(primary, "status", None)
        if not streams:
            return CommandResult(primary.id, self.position_of(primary.id),
                                 self.metadata.correlation_id, changed=False, state=state)
        position = await self.store.append(streams, self.metadata)
        for aggregate, _ in self._tracked.values():
            if any(s.aggregate_id == aggregate.id for s in streams):
                self.cache.put(aggregate.id, Cached(aggregate.fork(), position))
        return CommandResult(primary.id, position, self.metadata.correlation_id, changed=True,
                             state=state)

    async def _load(self, aggregate_id: UUID) -> Cached | None:
        """Committed state: the cached copy caught up with whatever the store has beyond it."""
        cached = self.cache.get(aggregate_id)
        after = cached.aggregate.version if cached else 0
        newer = await self.store.load(aggregate_id, after_version=after)
        if not newer:
            return cached
        aggregate = cached.aggregate.fork() if cached else None
        for stored in newer:
            event = decode_event(stored.event_type, stored.aggregate_id, stored.version,
                                 stored.occurred_at, stored.payload)
            aggregate = event.mutate(aggregate)
        assert aggregate is not None
        item = Cached(aggregate, newer[-1].position)
        self.cache.put(aggregate_id, item)
        return item


async def run_command(
    handler: Callable[[UnitOfWork], Awaitable[R]],
    store: EventStore,
    cache: AggregateCache,
    metadata: Metadata,
) -> R:
    """Run a handler in a fresh unit of work, again while it loses concurrency races."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return await handler(UnitOfWork(store, cache, metadata))
        except ConcurrencyConflict:
            if attempt == MAX_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
