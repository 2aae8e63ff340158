"""Follows the event store's tail so a process learns which aggregates others have changed.

Several command API processes share one store, each with its own aggregate cache. Without
news of the others' appends, a process decides on stale cached state and only learns of it
when its commit is refused, which costs a retry of every command chained on that state; on
a hot aggregate (a course taking enrollments) that is most of them. The follower listens for
the store's append notification and reads, from the last position it saw, each changed
aggregate's newest version; the cache marks older entries as behind, and the next command
on one catches up incrementally before deciding. Commit-time validation stays the guarantee:
the follower only makes losing a race rare.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, sql

from commands.adapters.event_store import NOTIFY_CHANNEL

log = logging.getLogger("smartcourse.commands")

CHANGED_SINCE = """
SELECT aggregate_id, max(version), max(position) FROM event_store.events
WHERE position > %s GROUP BY aggregate_id
"""

Changes = dict[UUID, int]  # aggregate id -> its newest version in the store


class StoreFollower:
    def __init__(self, dsn: str, on_changes: Callable[[Changes], None],
                 fallback_poll: float = 1.0, min_interval: float = 0.01,
                 channel: str = NOTIFY_CHANNEL) -> None:
        self.dsn = dsn
        self.on_changes = on_changes
        self.fallback_poll = fallback_poll  # seconds: a missed notification costs no more
        # Seconds between catch-ups: under load appends notify hundreds of times a second,
        # and news a few milliseconds older spares nearly as many races.
        self.min_interval = min_interval
        self.channel = channel
        self.position: int | None = None  # the last position whose changes were reported
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="event-store-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _follow(self) -> None:
        while True:
            try:
                async with await AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    if self.position is None:  # what was cached before we started is fresh
                        row = await (await conn.execute(
                            "SELECT coalesce(max(position), 0) FROM event_store.events"
                        )).fetchone()
                        self.position = row[0]
                    while True:
                        await self.catch_up(conn)
                        await asyncio.sleep(self.min_interval)
                        async for _ in conn.notifies(timeout=self.fallback_poll, stop_after=1):
                            break
                        async for _ in conn.notifies(timeout=0):
                            pass  # the others waiting: one catch-up covers them all
            except psycopg.Error as error:  # after a reconnect, the position covers the gap
                log.warning("event store follower lost its connection; retrying",
                            extra={"reason": str(error)})
                await asyncio.sleep(1.0)

    async def catch_up(self, conn: AsyncConnection) -> None:
        """Report every aggregate changed after the last position seen."""
        assert self.position is not None
        rows = await (await conn.execute(CHANGED_SINCE, [self.position])).fetchall()
        if not rows:
            return
        self.on_changes({aggregate_id: version for aggregate_id, version, _ in rows})
        self.position = max(position for _, _, position in rows)
