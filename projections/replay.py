"""Blue/green rebuild of a projection from the event store (ADR 0004, decision 3).

1. Begin (or resume) version N+1 in its own schema beside the live N; `read_models.projections`
   records `state = rebuilding`, `rebuild_version` and `rebuild_position`.
2. Catch up: apply the store's events in global order with the live path's fold and version
   rule, chunk by chunk; each chunk commits with the new `rebuild_position`, so an
   interrupted replay resumes where it stopped (`restart=True` builds afresh instead).
3. Switch: under the projection's advisory lock (which every live batch takes) apply the
   tail up to the store's head, point the views at N+1 and make it live, in one transaction.
   Whatever a live worker applied is in the store up to that head, so N+1 holds it too; the
   worker then writes N+1 and its version check skips what the replay already applied.
4. Keep N (the previous version, for a quick look back or a manual switch back) and drop
   anything older.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import AsyncConnection

from projections.base import Projection
from projections.deliveries import EventDelivery
from projections.positions import advance_positions
from projections.schema import (
    create_version,
    ddl_fingerprint,
    ensure_read_models,
    point_views,
    stale,
    version_schemas,
)
from projections.store_reader import count_events, read_chunks, read_pages, store_head
from projections.writer import VersionCache, apply_events

CHUNK_SIZE = 5_000
# Collector thresholds while replaying (see `_few_collections`): a young collection every
# 100k allocations (a chunk's worth), the older ones rarely.
REPLAY_GC_THRESHOLDS = (100_000, 20, 100)
Progress = Callable[[int, int, int], None]  # (events read, position reached, head)


class ReplayBusy(RuntimeError):
    """Another replay of the same projection holds its replay lock."""


log = logging.getLogger("smartcourse.replay")


@dataclass(frozen=True)
class ReplayPlan:
    projection: str
    live_version: int | None  # None: the read models are not bootstrapped yet
    target_version: int
    resume_after: int  # the position after which events are read (0: from the start)
    head: int
    events: int  # events of the projection's aggregate types to read

    def describe(self) -> str:
        live = "none (would bootstrap)" if self.live_version is None else f"v{self.live_version}"
        how = (f"resume v{self.target_version} after position {self.resume_after}"
               if self.resume_after else f"build v{self.target_version} from scratch")
        return (f"{self.projection}: live {live}; would {how}; {self.events} events to replay"
                f" up to position {self.head}, then switch to v{self.target_version}")


@dataclass(frozen=True)
class ReplayOutcome:
    projection: str
    version: int  # live now
    previous: int
    events: int  # read from the store (this run)
    applied: int
    dead_letters: int  # parked in the new version
    head: int  # the position the new version holds everything up to
    seconds: float
    dropped: tuple[int, ...]


async def plan_replay(conn: AsyncConnection, projection: Projection,
                      restart: bool = False) -> ReplayPlan:
    """What a replay would do now; reads only."""
    live, rebuilding, position = None, None, 0
    cur = await conn.execute("SELECT to_regclass('read_models.projections') IS NOT NULL")
    if (await cur.fetchone() or (False,))[0]:
        cur = await conn.execute(
            "SELECT live_version, rebuild_version, coalesce(rebuild_position, 0)"
            " FROM read_models.projections WHERE name = %s", [projection.name])
        row = await cur.fetchone()
        if row is not None:
            live, rebuilding, position = row
    existing = await version_schemas(conn, projection)
    if rebuilding in existing and not restart:
        target = rebuilding
    else:
        floor = 1 if live is None else live  # bootstrapping creates an empty v1
        target, position = max([floor, *[v for v in existing if v != rebuilding]]) + 1, 0
    head = await store_head(conn)
    events = await count_events(conn, position, head, projection.aggregate_types)
    return ReplayPlan(projection.name, live, target, position, head, events)


async def replay_projection(dsn: str, projection: Projection, *, chunk_size: int = CHUNK_SIZE,
                            restart: bool = False, progress: Progress | None = None,
                            ) -> ReplayOutcome:
    """Rebuild `projection` from the event store and make the result live."""
    started = time.perf_counter()
    with _few_collections():
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn, \
                await AsyncConnection.connect(dsn, autocommit=True) as reader:
            # The fold's statements are small, but PostgreSQL's estimates for tables built in
            # one go (not analysed yet) can pass jit_above_cost: compiling takes milliseconds.
            await conn.execute("SET jit = off")
            await ensure_read_models(conn, [projection])
            cur = await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                     [f"replay:{projection.name}"])
            if not (await cur.fetchone() or (False,))[0]:
                raise ReplayBusy(f"a replay of {projection.name} is already running")
            run = _Run(conn, reader, projection, chunk_size, progress)
            plan = await run.begin(restart)
            await run.catch_up(plan.resume_after)
            previous, head = await run.switch(plan.target_version)
            dropped = await _drop_older(conn, projection, previous)
    return ReplayOutcome(projection.name, plan.target_version, previous, run.events, run.applied,
                         run.dead_letters, head, time.perf_counter() - started, dropped)


async def rebuild_stale(dsn: str, projections: Iterable[Projection]) -> list[ReplayOutcome]:
    """Rebuild every projection whose live version another release's DDL made (a new column,
    a new table): what a worker does before it consumes, so the fold never writes to tables
    that lack what it writes. One process does it at a time; the others wait and find
    nothing left to do. A replay already running (the CLI's) is left to finish."""
    projections = list(projections)
    outcomes = []
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        await ensure_read_models(conn, projections)
        await conn.execute("SELECT pg_advisory_lock(hashtext('read_models:upgrade'))")
        try:
            for projection in await stale(conn, projections):
                log.warning("projection built by other DDL: rebuilding it",
                            extra={"projection": projection.name})
                try:
                    outcomes.append(await replay_projection(dsn, projection))
                except ReplayBusy:
                    log.warning("a replay of the projection is already running",
                                extra={"projection": projection.name})
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('read_models:upgrade'))")
    return outcomes


class _Run:
    """One replay's connections, counters and version cache."""

    def __init__(self, conn: AsyncConnection, reader: AsyncConnection, projection: Projection,
                 chunk_size: int, progress: Progress | None) -> None:
        self.conn, self.reader, self.projection = conn, reader, projection
        self.chunk_size, self.progress = chunk_size, progress
        self.events = self.applied = self.dead_letters = 0
        self.cache = VersionCache(complete=True)
        self.version = 0
        self.position = 0

    async def begin(self, restart: bool) -> ReplayPlan:
        async with self.conn.transaction():
            await self.conn.execute("SELECT 1 FROM read_models.projections WHERE name = %s"
                                    " FOR UPDATE", [self.projection.name])
            plan = await plan_replay(self.conn, self.projection, restart)
            if plan.resume_after == 0:
                await create_version(self.conn, self.projection, plan.target_version)
            await self.conn.execute(
                "UPDATE read_models.projections SET state = 'rebuilding', rebuild_version = %s,"
                " rebuild_position = %s, updated_at = now() WHERE name = %s",
                [plan.target_version, plan.resume_after, self.projection.name])
        self.version, self.position = plan.target_version, plan.resume_after
        self.cache.complete = plan.resume_after == 0
        return plan

    async def catch_up(self, after: int) -> None:
        """Apply chunks until the store's head is less than a chunk ahead."""
        while True:
            head = await store_head(self.conn)
            if head - self.position < self.chunk_size:
                return
            # aclosing: an interruption ends the reader's transaction before its connection
            chunks = read_chunks(self.reader, self.position, head,
                                 self.projection.aggregate_types, self.chunk_size)
            async with aclosing(chunks):
                async for events in chunks:
                    async with self.conn.transaction():
                        await self._apply(events, events[-1].position)
                    self._report(head)
            async with self.conn.transaction():
                await self._apply([], head)

    async def switch(self, version: int) -> tuple[int, int]:
        """The tail and the switch, in one transaction under the projection's lock."""
        name = self.projection.name
        async with self.conn.transaction():
            await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                                    [self.projection.lock_key])
            head = await store_head(self.conn)
            async for events in read_pages(self.conn, self.position, head,
                                            self.projection.aggregate_types, self.chunk_size):
                await self._apply(events, events[-1].position)
                self._report(head)
            cur = await self.conn.execute(
                "SELECT live_version FROM read_models.projections WHERE name = %s", [name])
            previous = int((await cur.fetchone() or (0,))[0])
            await point_views(self.conn, self.projection, version)
            await self.conn.execute(
                "UPDATE read_models.projections SET live_version = %s, state = 'live',"
                " rebuild_version = NULL, rebuild_position = NULL, ddl_sha = %s,"
                " updated_at = now() WHERE name = %s",
                [version, ddl_fingerprint(self.projection), name])
            await advance_positions(self.conn, name, head)
        return previous, head

    async def _apply(self, events: list, position: int) -> None:
        schema = self.projection.schema(self.version)
        if events:
            written = await apply_events(self.conn, self.projection, schema,
                                         [EventDelivery(e) for e in events], self.cache)
            self.events += len(events)
            self.applied += written.applied
            self.dead_letters += len(written.dead_letters)
        await self.conn.execute(
            "UPDATE read_models.projections SET rebuild_position = %s, updated_at = now()"
            " WHERE name = %s", [position, self.projection.name])
        self.position = position

    def _report(self, head: int) -> None:
        if self.progress is not None:
            self.progress(self.events, self.position, head)


@contextmanager
def _few_collections() -> Iterator[None]:
    """Python's default thresholds promote a chunk's events (alive until it is written) to
    the oldest generation and so run a full collection every chunk or two, over the whole
    version cache: up to 40 % of the replay's Python CPU. Cycles are rare here (refcounts free
    almost everything), so collect seldom while replaying and restore the thresholds after."""
    previous = gc.get_threshold()
    gc.set_threshold(*REPLAY_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


async def _drop_older(conn: AsyncConnection, projection: Projection,
                      keep_from: int) -> tuple[int, ...]:
    """Drop versions older than `keep_from` (the one just replaced stays, for a look back)."""
    old = [v for v in await version_schemas(conn, projection) if v < keep_from]
    for version in old:
        try:
            await conn.execute(f"DROP SCHEMA {projection.schema(version)} CASCADE")
        except psycopg.errors.InvalidSchemaName:
            continue  # dropped meanwhile by another replay
    return tuple(old)
