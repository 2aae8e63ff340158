"""The PostgreSQL event store's own mechanics against the real database: loads requested
together share a query and still answer each request, the follower reports other
processes' appends, and two command API processes keep the seat cap."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from psycopg_pool import AsyncConnectionPool

from commands.adapters.event_store import EventStore, Metadata, NewEvent, StreamAppend
from commands.adapters.store_follower import StoreFollower
from smartcourse.local_servers import serve
from smartcourse.settings import Settings
from tests.integration.test_command_api import enroll_concurrently
from tests.support.command_client import CommandClient


def registered(user_id: UUID) -> StreamAppend:
    """A real event with a real contract: the relay and the worker share this store."""
    return StreamAppend("user", user_id, 0, [NewEvent(
        uuid4(), "user.registered", 1,
        {"display_name": "Store test", "email": "store@example.org", "role": "student"},
        datetime.now(UTC))])


async def open_store(settings: Settings) -> tuple[AsyncConnectionPool, EventStore]:
    pool = AsyncConnectionPool(settings.pg_dsn, min_size=1, max_size=4, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True)
    return pool, EventStore(pool)


def test_loads_requested_together_each_get_their_own_events(stack: Settings) -> None:
    async def scenario() -> None:
        pool, store = await open_store(stack)
        try:
            ids = [uuid4() for _ in range(20)]
            meta = Metadata("test", uuid4())
            await asyncio.gather(*(store.append([registered(a)], meta) for a in ids))
            requests = [(a, 0) for a in ids] + [(ids[5], 0), (ids[5], 1), (uuid4(), 0)]

            together = await asyncio.gather(*(store.load(a, after) for a, after in requests))

            one_by_one = [await store.load(a, after) for a, after in requests]
            assert together == one_by_one
            assert [len(events) for events in together] == [1] * 21 + [0, 0]
            assert [events[0].aggregate_id for events in together[:21]] == ids + [ids[5]]
        finally:
            await store.close()
            await pool.close()

    asyncio.run(scenario())


def test_the_follower_reports_what_another_process_appended(stack: Settings) -> None:
    async def scenario() -> None:
        seen: dict[UUID, int] = {}
        changed = asyncio.Event()

        def on_changes(changes: dict[UUID, int]) -> None:
            seen.update(changes)
            changed.set()

        follower = StoreFollower(stack.pg_dsn, on_changes)
        pool, other_process = await open_store(stack)
        try:
            await follower.start()
            while follower.position is None:  # it starts from the head it finds
                await asyncio.sleep(0.01)
            aggregate = uuid4()
            await other_process.append([registered(aggregate)], Metadata("test", uuid4()))

            async with asyncio.timeout(10):
                while seen.get(aggregate) != 1:
                    await changed.wait()
                    changed.clear()
        finally:
            await follower.stop()
            await other_process.close()
            await pool.close()

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def two_process_api(stack: Settings, server_logs: Path) -> Iterator[str]:
    with serve("command-api", stack, server_logs, "--workers", "2") as base_url:
        yield base_url


@pytest.mark.parametrize("attempt", range(5))
def test_two_api_processes_keep_the_seat_cap(two_process_api: str, attempt: int) -> None:
    instructor = CommandClient(two_process_api, role="instructor")
    course_id, _ = instructor.published_course(capacity=10)

    replies = asyncio.run(enroll_concurrently(two_process_api, course_id, 50))

    assert Counter(r.status_code for r in replies) == {202: 10, 409: 40}
    assert {r.json()["error"]["code"] for r in replies if r.status_code == 409} == {
        "enrollment.seat_cap_reached"}


def test_an_event_above_the_size_limit_is_refused_and_the_batch_goes_on(stack: Settings) -> None:
    """The store's last line before Kafka: the oversized commit fails alone (422
    event.too_large in the API), the others of its batch are written."""
    from commands.adapters.event_store import EventTooLarge

    async def scenario() -> None:
        pool, store = await open_store(stack)
        store.max_event_bytes = 10_000
        try:
            small, large = uuid4(), uuid4()
            big = StreamAppend("user", large, 0, [NewEvent(
                uuid4(), "user.registered", 1,
                {"display_name": "x" * 20_000, "email": "big@example.org", "role": "student"},
                datetime.now(UTC))])
            meta = Metadata("test", uuid4())
            outcomes = await asyncio.gather(store.append([big], meta),
                                            store.append([registered(small)], meta),
                                            return_exceptions=True)
            assert isinstance(outcomes[0], EventTooLarge)
            assert outcomes[0].code == "event.too_large" and outcomes[0].details["limit"] == 10_000
            assert isinstance(outcomes[1], int)
            assert await store.load(large) == []
            assert [e.position for e in await store.load(small)] == [outcomes[1]]
        finally:
            await store.close()
            await pool.close()

    asyncio.run(scenario())
