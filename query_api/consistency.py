"""Read-your-writes: a read carrying a consistency token waits, bounded, for its projections.

One LISTEN connection per process (not one per waiting request) turns the sinks' NOTIFY
into an asyncio event that wakes every waiter to re-read the positions; waiters woken
together share one query. If no notification comes (a missed one, the listener
reconnecting), waiters poll with exponential backoff; either way the wait ends at the
deadline with `NotCaughtUp`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from contextlib import suppress

import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from projections.registry import PROJECTIONS
from query_api.errors import NotCaughtUp
from query_api.positions import positions
from smartcourse.observability import tracing

log = logging.getLogger("smartcourse.query_api")

FIRST_POLL = 0.005  # seconds before the first re-read when nothing notifies
MAX_POLL = 0.1  # the backoff's ceiling
RETRY_AFTER = 1.0  # what a 503 suggests to the client


def caught_up(reached: Mapping[str, int], token: int) -> bool:
    return all(position >= token for position in reached.values())


def requested_token(header: int | None, query: int | None) -> int | None:
    """The position a read must reflect: the larger of the header and the query parameter."""
    given = [t for t in (header, query) if t is not None]
    return max(given) if given else None


def poll_delays(first: float = FIRST_POLL, ceiling: float = MAX_POLL) -> Iterable[float]:
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, ceiling)


class PositionWatcher:
    """Waits for projection positions; one per process, started by the app's lifespan."""

    def __init__(self, pool: AsyncConnectionPool, dsn: str, channel: str | None,
                 partitions_per_topic: int | None = None,
                 first_poll: float = FIRST_POLL, max_poll: float = MAX_POLL,
                 topic_prefix: str | None = None) -> None:
        self.pool = pool
        self.dsn = dsn
        self.partitions_per_topic = partitions_per_topic
        self.topic_prefix = topic_prefix
        self.channel = channel
        self.first_poll, self.max_poll = first_poll, max_poll
        self._moved = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._reading: tuple[float, asyncio.Future[dict[str, int]]] | None = None
        self._woken_at = 0.0
        self.listening = channel is None  # False while waiters fall back to polling

    async def start(self) -> None:
        if self.channel:
            self._listener = asyncio.create_task(self._listen(self.channel))

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener

    async def wait(self, names: Iterable[str], token: int, timeout: float) -> dict[str, int]:
        """The projections' positions once all are at `token` or beyond; else NotCaughtUp."""
        names = tuple(names)
        if not tracing.enabled():
            return await self._wait(names, token, timeout)
        with tracing.tracer().start_as_current_span("read_your_writes wait", attributes={
                "smartcourse.consistency_token": token,
                "smartcourse.projections": ",".join(names)}):
            return await self._wait(names, token, timeout)

    async def _wait(self, names: tuple[str, ...], token: int, timeout: float
                    ) -> dict[str, int]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        since = loop.time()  # the client's write committed before its read arrived
        for delay in poll_delays(self.first_poll, self.max_poll):
            moved = self._moved  # taken before reading: a NOTIFY during the read still wakes us
            reached = await self._read(names, since)
            remaining = deadline - loop.time()
            if caught_up(reached, token):
                return reached
            if remaining <= 0:
                raise NotCaughtUp(token, reached, RETRY_AFTER)
            try:
                await asyncio.wait_for(moved.wait(), min(delay, remaining))
                since = self._woken_at  # what was committed before the NOTIFY is enough
            except TimeoutError:
                since = loop.time()
        raise AssertionError("unreachable: poll_delays never ends")

    async def _read(self, names: tuple[str, ...], since: float) -> dict[str, int]:
        """The positions as of `since` (loop time) or later. A read that started at or after
        `since` sees every commit before it, so waiters woken together share it."""
        if self._reading is None or self._reading[0] < since:
            self._reading = (asyncio.get_running_loop().time(),
                             asyncio.ensure_future(self._read_all()))
        every = await asyncio.shield(self._reading[1])  # one waiter's timeout cancels no read
        return {name: every.get(name, 0) for name in names}

    async def _read_all(self) -> dict[str, int]:
        async with self.pool.connection() as conn:
            return await positions(conn, PROJECTIONS, self.partitions_per_topic,
                                   self.topic_prefix)

    def _wake(self) -> None:
        self._woken_at = asyncio.get_running_loop().time()
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def _listen(self, channel: str) -> None:
        while True:
            try:
                async with await AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.listening = True
                    async for _ in conn.notifies():
                        self._wake()
            except psycopg.Error as error:
                self.listening = False
                log.error("position listener lost its connection (%s); waiters poll", error)
                await asyncio.sleep(1.0)
