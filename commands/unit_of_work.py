"""Unit of work: loads aggregates, tracks what a command changed, commits it atomically.

Aggregates come from a per-process cache. A command works on forks, so a failed command
leaves the cache untouched. When a command is submitted, its new state goes into the cache
at once, marked pending: the next command on the same aggregate builds on it instead of
waiting for the commit (or losing a race to it). The event store writes commits in
submission order and checks, in the same transaction, that every aggregate a command read
or wrote is still at the version it saw; if a predecessor failed, its dependants fail that
check too and are retried on fresh state. Commands are therefore serializable, and other
processes writing the same aggregates are caught by the same check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from commands.adapters.event_codec import decode_event, event_type_of, payload_of
from commands.adapters.event_store import EventStore, Metadata, NewEvent, StreamAppend, failed
from commands.domain.base import AggregateRoot
from commands.domain.errors import ConcurrencyConflict, Conflict, NotFound, SmartCourseError
from commands.domain.ids import event_id
from privacy.sealing import MemoryKeys, PersonalData

A = TypeVar("A", bound=AggregateRoot)
R = TypeVar("R")
MAX_ATTEMPTS = 50


@dataclass
class Cached:
    aggregate: AggregateRoot
    position: int  # global position of its last event (0 while pending)
    pending: asyncio.Future[int] | None = None  # the commit that will make it true
    behind: bool = False  # another process appended to it since: catch up before deciding
    # The newest settled state this pending one was built on: where the cache falls back to
    # if the chain fails, so a hot aggregate catches up from there instead of from scratch.
    settled: Cached | None = None

    @property
    def failed(self) -> bool:
        return self.pending is not None and failed(self.pending)

    def settled_state(self) -> Cached | None:
        """Itself if settled, else the newest settled state under its pending chain."""
        if self.pending is None or (self.pending.done() and not self.failed):
            return self
        return self.settled


class AggregateCache:
    """Aggregates by id, least recently used evicted first."""

    def __init__(self, capacity: int = 100_000) -> None:
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

    def evict(self, aggregate_id: UUID) -> None:
        self._items.pop(aggregate_id, None)

    def fall_back(self, aggregate_id: UUID, failed: Cached) -> None:
        """A pending state failed: if it is still the newest, go back to its settled base."""
        if self._items.get(aggregate_id) is failed:
            if failed.settled is None:
                self.evict(aggregate_id)
            else:
                self._items[aggregate_id] = failed.settled

    def saw(self, changes: Mapping[UUID, int]) -> None:
        """The store holds these versions (from StoreFollower): mark older entries behind.
        Pending entries are left alone: their commit is validated against the store."""
        for aggregate_id, version in changes.items():
            item = self._items.get(aggregate_id)
            if item is not None and item.pending is None and item.aggregate.version < version:
                item.behind = True


@dataclass(frozen=True)
class CommandResult:
    aggregate_id: UUID
    position: int  # consistency token: read models past it reflect this command
    correlation_id: UUID
    changed: bool  # False when the command was a no-op (e.g. a repeated enroll)
    state: str | None = None  # the primary aggregate's lifecycle state after the command


class UnitOfWork:
    def __init__(self, store: EventStore, cache: AggregateCache, metadata: Metadata,
                 refresh: bool = False, personal: PersonalData | None = None) -> None:
        self.store = store
        # Seals personal fields before they are stored; opens them when loading.
        self.personal = personal or PersonalData(MemoryKeys())
        self.cache = cache
        self.metadata = metadata
        self.refresh = refresh  # catch up from the store (after a lost race)
        self._tracked: dict[UUID, tuple[AggregateRoot, int, Cached | None]] = {}
        self._built_on: set[asyncio.Future[int]] = set()  # pending commits this one read

    async def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        if aggregate_id in self._tracked:
            found = self._tracked[aggregate_id][0]
            return found if isinstance(found, cls) else None
        entry = await self._load(aggregate_id)
        if entry is None:
            self._tracked[aggregate_id] = _ABSENT
            return None
        fork = entry.aggregate.fork()
        self._tracked[aggregate_id] = (fork, fork.version, entry)
        if entry.pending is not None:
            self._built_on.add(entry.pending)
        return fork if isinstance(fork, cls) else None

    async def get(self, cls: type[A], aggregate_id: UUID) -> A:
        found = await self.find(cls, aggregate_id)
        if found is None:
            raise NotFound(f"no {cls.type_name} {aggregate_id}", f"{cls.type_name}.not_found")
        return found

    def add(self, aggregate: AggregateRoot) -> None:
        """Track a new aggregate (its id was looked up with `find` first)."""
        taken = self._tracked.get(aggregate.id)
        if taken is not None and taken[0] is not None:
            # Retrying could never succeed: the id's stream exists, under another kind.
            raise Conflict(
                f"the id {aggregate.id} already belongs to a {taken[0].type_name}, not a "
                f"{aggregate.type_name}", "id.taken_by_other_kind",
                kind=taken[0].type_name)
        self._tracked.pop(aggregate.id, None)  # new aggregates' events follow the others'
        self._tracked[aggregate.id] = (aggregate, 0, None)

    async def commit(self, primary: AggregateRoot) -> CommandResult:
        """Append every tracked aggregate's new events in one transaction."""
        streams: list[StreamAppend] = []
        reads: dict[UUID, int] = {}
        for aggregate_id, (aggregate, loaded_version, _) in self._tracked.items():
            pending = aggregate.collect_events() if aggregate is not None else []
            if not pending:
                reads[aggregate_id] = loaded_version
                continue
            events = []
            for e in pending:
                event_type, payload = event_type_of(e), payload_of(e)
                if self.personal.has_personal_fields(event_type):
                    payload = await self.personal.seal(event_type, aggregate.id, payload)
                events.append(NewEvent(
                    event_id=event_id(aggregate.id, e.originator_version),
                    event_type=event_type, version=e.originator_version, payload=payload,
                    occurred_at=e.timestamp))
            streams.append(StreamAppend(
                aggregate_type=aggregate.type_name,
                aggregate_id=aggregate.id,
                expected_version=loaded_version,
                events=events,
            ))
        state = getattr(primary, "state", None) or getattr(primary, "status", None)
        if not streams:
            # A no-op decided on cached state must hold on the store's state too: another
            # process may have moved an aggregate it read (found by tests/unit/commands/
            # test_properties.py: an activation answered as done on a cancelled enrollment).
            # The store checks the versions read, as for any commit; a conflict retries fresh.
            await self.store.submit([], self.metadata, reads, after=self._built_on)
            position = await self._settled_position(primary.id)
            return CommandResult(primary.id, position, self.metadata.correlation_id,
                                 changed=False, state=state)

        done = self.store.submit(streams, self.metadata, reads, after=self._built_on)
        ours = {}
        for stream in streams:
            aggregate, _, loaded_from = self._tracked[stream.aggregate_id]
            ours[stream.aggregate_id] = Cached(
                aggregate.fork(), 0, pending=done,
                settled=loaded_from.settled_state() if loaded_from is not None else None)
            self.cache.put(stream.aggregate_id, ours[stream.aggregate_id])
        try:
            position = await asyncio.shield(done)
        except BaseException:
            for aggregate_id, entry in ours.items():
                self.cache.fall_back(aggregate_id, entry)  # never build on a failed state
            raise
        for entry in ours.values():
            entry.position, entry.pending, entry.settled = position, None, None
        return CommandResult(primary.id, position, self.metadata.correlation_id, changed=True,
                             state=state)

    async def _settled_position(self, aggregate_id: UUID) -> int:
        """For a no-op: whatever the command read must really be committed."""
        for _, _, entry in self._tracked.values():
            if entry is not None and entry.pending is not None:
                try:
                    await asyncio.shield(entry.pending)
                except Exception:
                    raise ConcurrencyConflict("a state this command read was not committed",
                                              "concurrency_conflict") from None
        tracked = self._tracked.get(aggregate_id)
        entry = tracked[2] if tracked else None
        if entry is None:
            return 0
        return entry.position or (entry.pending.result() if entry.pending else 0)

    async def _load(self, aggregate_id: UUID) -> Cached | None:
        entry = self.cache.get(aggregate_id)
        if entry is not None and not self.refresh and not entry.behind:
            return entry
        # Catch up only from settled state: a pending entry may hold a failed chain of this
        # process's commits whose versions another process has since filled with others.
        while entry is not None and entry.pending is not None and not entry.pending.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(entry.pending)
            entry = self.cache.get(aggregate_id)
        if entry is not None and entry.failed:
            entry = entry.settled  # failed and not replaced yet: its settled base
        after = entry.aggregate.version if entry is not None else 0
        newer = await self.store.load(aggregate_id, after_version=after)
        if not newer:
            if entry is not None:
                entry.behind = False
            return entry
        aggregate = entry.aggregate.fork() if entry is not None else None
        for stored in newer:
            payload = stored.payload
            if self.personal.has_personal_fields(stored.event_type):
                payload = await self.personal.open(stored.event_type, stored.aggregate_id,
                                                   payload)
            event = decode_event(stored.event_type, stored.aggregate_id, stored.version,
                                 stored.occurred_at, payload)
            aggregate = event.mutate(aggregate)
        assert aggregate is not None
        current = self.cache.get(aggregate_id)
        fresh = Cached(aggregate, newer[-1].position)
        if current is None or current.aggregate.version <= aggregate.version:
            self.cache.put(aggregate_id, fresh)
        return fresh


_ABSENT: tuple[None, int, None] = (None, 0, None)  # type: ignore[assignment]


async def run_command(
    handler: Callable[[UnitOfWork], Awaitable[R]],
    store: EventStore,
    cache: AggregateCache,
    metadata: Metadata,
    personal: PersonalData | None = None,
) -> R:
    """Run a handler in a fresh unit of work, again (on fresh state) while it loses races.

    A refusal is only final when made on fresh state: cached state may lag behind another
    process, or include a pending commit that then fails.
    """
    for attempt in range(MAX_ATTEMPTS):
        refresh = attempt > 0
        try:
            return await handler(UnitOfWork(store, cache, metadata, refresh=refresh,
                                            personal=personal))
        except ConcurrencyConflict:
            if attempt == MAX_ATTEMPTS - 1:
                raise
        except SmartCourseError:
            if refresh:
                raise
    raise AssertionError("unreachable")
