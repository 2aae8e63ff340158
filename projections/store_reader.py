"""Reads the event store in global order, in chunks, for the replay.

A server-side cursor streams one snapshot without a query per chunk, and the next chunk is
fetched while the caller applies the current one (the reader has its own connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from psycopg import AsyncConnection

from commands.adapters.event_store import COLUMNS, StoredEvent

SELECT = (f"SELECT {COLUMNS} FROM event_store.events"
          " WHERE position > %s AND position <= %s AND aggregate_type = ANY(%s)"
          " ORDER BY position")


async def store_head(conn: AsyncConnection) -> int:
    """The last committed position (positions become visible in order: all below are too)."""
    cur = await conn.execute("SELECT coalesce(max(position), 0) FROM event_store.events")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def count_events(conn: AsyncConnection, after: int, upto: int,
                       aggregate_types: Sequence[str]) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM event_store.events"
        " WHERE position > %s AND position <= %s AND aggregate_type = ANY(%s)",
        [after, upto, list(aggregate_types)])
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def read_chunks(conn: AsyncConnection, after: int, upto: int,
                      aggregate_types: Sequence[str],
                      chunk_size: int) -> AsyncIterator[list[StoredEvent]]:
    """Events of `aggregate_types` with after < position <= upto, in order, in chunks.
    `conn` must be a connection of its own (not autocommit: the cursor lives in a transaction)."""
    async with conn.transaction():
        cur = conn.cursor(name="replay_events")
        cur.itersize = chunk_size
        await cur.execute(SELECT, [after, upto, list(aggregate_types)])
        pending = asyncio.ensure_future(cur.fetchmany(chunk_size))
        try:
            while rows := await pending:
                pending = asyncio.ensure_future(cur.fetchmany(chunk_size))
                yield [StoredEvent(*row) for row in rows]
        finally:
            if not pending.done():
                await asyncio.gather(pending, return_exceptions=True)
            await cur.close()


async def read_pages(conn: AsyncConnection, after: int, upto: int,
                     aggregate_types: Sequence[str],
                     chunk_size: int) -> AsyncIterator[list[StoredEvent]]:
    """As `read_chunks`, one query per chunk: for a short tail read on the connection that
    also writes (a server-side cursor would compete with the writes for the connection)."""
    while True:
        cur = await conn.execute(SELECT + " LIMIT %s",
                                 [after, upto, list(aggregate_types), chunk_size])
        rows = await cur.fetchall()
        if not rows:
            return
        yield [StoredEvent(*row) for row in rows]
        after = rows[-1][0]
