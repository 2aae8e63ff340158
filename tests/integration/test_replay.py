"""The replay against the real event store: a rebuild equals what live processing built.

A realistic history is written through the command bus to the PostgreSQL store and applied
"live" through the sink in Kafka-like batches; then the replay rebuilds the projection from
the whole store beside it and switches. The store holds other tests' events too, so the two
versions are compared on this test's aggregates. Each test works on a private copy of a
projection (own name and schemas, no views), except the CLI tests, which change nothing.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
from dataclasses import dataclass
from uuid import UUID

import pytest
from psycopg import AsyncConnection

from commands.adapters.event_store import COLUMNS, StoredEvent
from projections.base import Projection
from projections.checksums import table_checksums
from projections.deliveries import EventDelivery
from projections.registry import PROJECTIONS
from projections.replay import plan_replay, rebuild_stale, replay_projection
from projections.schema import ensure_read_models
from projections.sink import PostgresProjector
from smartcourse.bootstrap import open_write_side
from smartcourse.settings import PROJECT_ROOT, Settings
from tests.support.projections import Make
from tests.unit.projections.history import History, deliveries, scenario

pytestmark = pytest.mark.integration



@dataclass(frozen=True)
class Written:
    ids: set[UUID]
    events: list[StoredEvent]


async def write_history(settings: Settings) -> Written:
    side = await open_write_side(settings)
    try:
        history = await scenario(History(side.bus, random.Random(21)), courses=5, students=60)
        async with side.pool.connection() as conn:
            cur = await conn.execute(f"SELECT {COLUMNS} FROM event_store.events"
                                     " WHERE aggregate_id = ANY(%s) ORDER BY position",
                                     [list(history.aggregate_ids)])
            events = [StoredEvent(*row) for row in await cur.fetchall()]
    finally:
        await side.close()
    return Written(history.aggregate_ids, events)


@pytest.fixture(scope="module")
def written(stack: Settings) -> Written:
    return asyncio.run(write_history(stack))





async def apply_live(conn: AsyncConnection, projection: Projection, written: Written,
                     seed: int) -> None:
    projector = PostgresProjector(projection)
    for batch in deliveries(written.events, random.Random(seed), partitions=4,
                            duplicates=0.2):
        result = await projector.apply(conn, batch)
        assert result.dead_letters == []


async def state(conn: AsyncConnection, name: str) -> tuple[object, ...] | None:
    cur = await conn.execute("SELECT live_version, state, rebuild_version, rebuild_position"
                             " FROM read_models.projections WHERE name = %s", [name])
    return await cur.fetchone()


class Interrupted(Exception):
    pass


# -- rebuild equals live -----------------------------------------------------------------------
@pytest.mark.parametrize("name", PROJECTIONS)
def test_a_replay_rebuilds_what_live_processing_built(name: str, dsn: str, copy_of: Make,
                                                      written: Written) -> None:
    projection = copy_of(name)

    async def check() -> None:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            await apply_live(conn, projection, written, seed=5)
            live = await table_checksums(conn, projection, 1, written.ids)

            outcome = await replay_projection(dsn, projection, chunk_size=10_000)

            assert (outcome.previous, outcome.version) == (1, 2)
            assert outcome.head >= written.events[-1].position
            assert await state(conn, projection.name) == (2, "live", None, None)
            assert await table_checksums(conn, projection, 2, written.ids) == live
            assert live["applied"][0] == len({e.aggregate_id for e in written.events
                                               if projection.handles(e)})
            # After the switch the live path writes the new version: all of it is known.
            await apply_live(conn, projection, written, seed=6)
            assert await table_checksums(conn, projection, 2, written.ids) == live

    asyncio.run(check())


def test_an_interrupted_replay_resumes_and_ends_equal(dsn: str, copy_of: Make,
                                                      written: Written) -> None:
    projection = copy_of("course_catalog")

    async def check() -> None:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            await apply_live(conn, projection, written, seed=7)
            live = await table_checksums(conn, projection, 1, written.ids)
            chunks = 0
            # At least four chunks of the events it reads whatever the store holds, so the
            # interruption after the second always lands mid-way.
            chunk_size = max(1, (await plan_replay(conn, projection)).events // 4)

            def stop_after_two(events: int, position: int, head: int) -> None:
                nonlocal chunks
                chunks += 1
                if chunks == 2:
                    raise Interrupted

            with pytest.raises(Interrupted):
                await replay_projection(dsn, projection, chunk_size=chunk_size,
                                        progress=stop_after_two)

            live_version, status, rebuilding, position = await state(conn, projection.name)
            assert (live_version, status, rebuilding) == (1, "rebuilding", 2)
            assert position > 0  # two chunks committed, the third was not
            plan = await plan_replay(conn, projection)
            assert (plan.target_version, plan.resume_after) == (2, position)

            outcome = await replay_projection(dsn, projection, chunk_size=chunk_size)

            assert outcome.version == 2
            assert await state(conn, projection.name) == (2, "live", None, None)
            assert await table_checksums(conn, projection, 2, written.ids) == live

            again = await replay_projection(dsn, projection)  # v3, and v1 is dropped
            assert (again.previous, again.version, again.dropped) == (2, 3, (1,))
            assert await table_checksums(conn, projection, 3, written.ids) == live

    asyncio.run(check())


async def events_after(conn: AsyncConnection, ids: set[UUID], after: int) -> list[StoredEvent]:
    cur = await conn.execute(f"SELECT {COLUMNS} FROM event_store.events WHERE position > %s"
                             " AND aggregate_id = ANY(%s) ORDER BY position", [after, list(ids)])
    return [StoredEvent(*row) for row in await cur.fetchall()]


def test_live_batches_during_a_replay_lose_nothing(stack: Settings, copy_of: Make) -> None:
    """Commands keep coming and the live path keeps applying them while the replay builds
    and switches; afterwards the live version equals one fed everything in order."""
    projection, reference = copy_of("course_catalog"), copy_of("course_catalog")

    async def check() -> None:
        side = await open_write_side(stack)
        history = History(side.bus, random.Random(31))
        projector = PostgresProjector(projection)
        try:
            async with await AsyncConnection.connect(stack.pg_dsn, autocommit=True) as conn:
                await scenario(history, courses=2, students=5)
                fed = 0

                async def feed_new() -> None:
                    nonlocal fed
                    new = await events_after(conn, history.aggregate_ids, fed)
                    for batch in deliveries(new, random.Random(fed), watermark=False):
                        assert (await projector.apply(conn, batch)).dead_letters == []
                    fed = new[-1].position if new else fed

                await feed_new()
                replay = asyncio.create_task(  # small chunks: many commits to interleave with
                    replay_projection(stack.pg_dsn, projection, chunk_size=100))
                rounds = during = 0
                while not replay.done() or rounds < 2:
                    course = await history.course(modules=1, lessons=1)
                    await history.enroll(course)
                    await feed_new()
                    rounds += 1
                    during += not replay.done()  # applied live while the replay still ran
                outcome = await replay
                await history.enroll(history.courses[0])
                await feed_new()

                assert outcome.version == 2 and during >= 1
                await PostgresProjector(reference).apply(conn, [
                    EventDelivery(e) for e in await events_after(conn, history.aggregate_ids, 0)])
                assert await table_checksums(conn, projection, 2, history.aggregate_ids) == (
                    await table_checksums(conn, reference, 1, history.aggregate_ids))
        finally:
            await side.close()

    asyncio.run(check())


# -- the command line --------------------------------------------------------------------------
def smartcourse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "smartcourse"), *args],
                          capture_output=True, text=True, timeout=120, check=False)


async def snapshot(dsn: str) -> tuple[object, ...]:
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT * FROM read_models.projections WHERE name = %s",
                                 ["course_catalog"])
        row = await cur.fetchone()
        cur = await conn.execute("SELECT array_agg(nspname ORDER BY nspname) FROM pg_namespace"
                                 " WHERE nspname LIKE 'rm\\_course\\_catalog\\_v%%'")
        return row, await cur.fetchone()


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(dsn: str) -> None:
    before = asyncio.run(snapshot(dsn))

    done = smartcourse("replay", "course_catalog", "--dry-run")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dry run: course_catalog: live ")
    assert "events to replay" in done.stdout
    assert asyncio.run(snapshot(dsn)) == before


def test_an_unknown_projection_is_a_one_line_error_with_exit_code_2() -> None:
    done = smartcourse("replay", "no_such_projection")

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: unknown projection 'no_such_projection'")


# -- a release that changes a projection's tables ----------------------------------------------
def test_a_projection_built_by_other_ddl_is_rebuilt_once_at_start(
        dsn: str, copy_of: Make, written: Written) -> None:
    """The worker's start-up step: a live version made by an older release's DDL (here: one
    without a column today's fold writes) is rebuilt into a new version; current ones are not."""
    older, current = copy_of("course_detail"), copy_of("course_catalog")

    async def check() -> None:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            await ensure_read_models(conn, [older, current])
            await conn.execute(f"ALTER TABLE {older.schema(1)}.course_version_lessons"
                               " DROP COLUMN files")
            await conn.execute("UPDATE read_models.projections SET ddl_sha = 'older-release'"
                               " WHERE name = %s", [older.name])

            [outcome] = await rebuild_stale(dsn, [older, current])

            assert (outcome.projection, outcome.previous, outcome.version) == (older.name, 1, 2)
            assert await state(conn, older.name) == (2, "live", None, None)
            assert await state(conn, current.name) == (1, "live", None, None)
            assert await rebuild_stale(dsn, [older, current]) == []  # nothing left to do
            await apply_live(conn, older, written, seed=8)  # the fold's writes all fit
            cur = await conn.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = 'course_version_lessons' AND column_name = 'files'",
                [older.schema(2)])
            assert (await cur.fetchone())[0] == 1

    asyncio.run(check())
