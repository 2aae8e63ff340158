"""The event store contract, checked on the in-memory fake the handler tests rely on.

The real PostgreSQL store must meet the same contract: an integration test can subclass
EventStoreContract with a `make_store` that returns it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.adapters.event_store import Metadata, NewEvent, StreamAppend
from commands.domain.errors import ConcurrencyConflict
from commands.domain.ids import event_id
from tests.unit.commands.fake_event_store import FakeEventStore

OCCURRED_AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body to completion (no asyncio plugin is installed)."""
    @functools.wraps(test)
    def sync(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return sync


def stream(aggregate_id: UUID, expected_version: int, count: int = 1) -> StreamAppend:
    """`count` new events for an aggregate believed to be at `expected_version`."""
    return StreamAppend(
        aggregate_type="course", aggregate_id=aggregate_id, expected_version=expected_version,
        events=[
            NewEvent(event_id=event_id(aggregate_id, version), event_type="course.archived",
                     version=version, payload={"n": version, "ids": [str(aggregate_id)]},
                     occurred_at=OCCURRED_AT)
            for version in range(expected_version + 1, expected_version + count + 1)
        ],
    )


def metadata() -> Metadata:
    return Metadata(actor=str(uuid4()), correlation_id=uuid4(), causation_id=uuid4())


class EventStoreContract:
    def make_store(self) -> Any:
        raise NotImplementedError

    @run
    async def test_an_append_is_loaded_back_in_version_order(self) -> None:
        store, aggregate_id, meta = self.make_store(), uuid4(), metadata()
        start = await store.head()
        appended = stream(aggregate_id, 0, count=3)

        position = await store.append([appended], meta)

        loaded = await store.load(aggregate_id)
        assert position == start + 3 == await store.head()
        assert [e.position for e in loaded] == [start + 1, start + 2, start + 3]
        assert [(e.event_id, e.version, e.payload, e.occurred_at) for e in loaded] == [
            (e.event_id, e.version, e.payload, e.occurred_at) for e in appended.events]
        assert {(e.aggregate_type, e.event_type, e.schema_version) for e in loaded} == {
            ("course", "course.archived", 1)}
        assert {(e.actor, e.correlation_id, e.causation_id) for e in loaded} == {
            (meta.actor, meta.correlation_id, meta.causation_id)}

    @run
    async def test_load_after_a_version_returns_only_later_events(self) -> None:
        store, aggregate_id = self.make_store(), uuid4()
        await store.append([stream(aggregate_id, 0, count=2)], metadata())
        await store.append([stream(aggregate_id, 2, count=2)], metadata())

        assert [e.version for e in await store.load(aggregate_id, after_version=2)] == [3, 4]
        assert await store.load(aggregate_id, after_version=4) == []
        assert await store.load(uuid4()) == []

    @run
    async def test_positions_are_global_and_gap_free(self) -> None:
        store, first, second = self.make_store(), uuid4(), uuid4()
        start = await store.head()

        one = await store.append([stream(first, 0, count=2)], metadata())
        two = await store.append([stream(second, 0), stream(first, 2)], metadata())

        positions = [e.position for e in await store.load(first) + await store.load(second)]
        assert (one, two) == (start + 2, start + 4)
        assert sorted(positions) == list(range(start + 1, start + 5))

    @pytest.mark.parametrize("expected_version", [0, 1, 3])
    @run
    async def test_a_stale_expected_version_is_refused(self, expected_version: int) -> None:
        store, aggregate_id = self.make_store(), uuid4()
        await store.append([stream(aggregate_id, 0, count=2)], metadata())
        head = await store.head()

        with pytest.raises(ConcurrencyConflict):
            await store.append([stream(aggregate_id, expected_version)], metadata())

        assert await store.head() == head
        assert [e.version for e in await store.load(aggregate_id)] == [1, 2]

    @run
    async def test_a_commit_with_one_stale_stream_writes_nothing(self) -> None:
        store, fresh, moved = self.make_store(), uuid4(), uuid4()
        await store.append([stream(moved, 0)], metadata())
        head = await store.head()

        with pytest.raises(ConcurrencyConflict):
            await store.append([stream(fresh, 0), stream(moved, 0)], metadata())

        assert await store.head() == head
        assert await store.load(fresh) == []

    @run
    async def test_of_two_racing_appends_at_one_version_exactly_one_wins(self) -> None:
        store, aggregate_id = self.make_store(), uuid4()

        results = await asyncio.gather(
            store.append([stream(aggregate_id, 0)], metadata()),
            store.append([stream(aggregate_id, 0)], metadata()),
            return_exceptions=True,
        )

        assert sorted(type(r).__name__ for r in results) == ["ConcurrencyConflict", "int"]
        assert [e.version for e in await store.load(aggregate_id)] == [1]


class TestFakeEventStore(EventStoreContract):
    def make_store(self) -> FakeEventStore:
        return FakeEventStore()

    @run
    async def test_versions_must_follow_the_expected_version(self) -> None:
        store, aggregate_id = self.make_store(), uuid4()
        gap = stream(aggregate_id, 1)  # says version 2 for an aggregate that has none

        with pytest.raises(ValueError, match="do not follow"):
            await store.append([StreamAppend("course", aggregate_id, 0, gap.events)], metadata())

        assert await store.head() == 0

    @run
    async def test_a_payload_is_stored_as_a_copy_through_json(self) -> None:
        store, aggregate_id = self.make_store(), uuid4()
        appended = stream(aggregate_id, 0)

        await store.append([appended], metadata())

        (loaded,) = await store.load(aggregate_id)
        assert loaded.payload == appended.events[0].payload
        assert loaded.payload is not appended.events[0].payload
