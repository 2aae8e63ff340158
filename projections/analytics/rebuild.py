"""Rebuild the analytics from the event store into a new version, then switch (blue/green).

1. Create `<db>_v<N+1>` (dropping any half-built version a crashed rebuild left behind).
2. Copy the store in global order, in chunks, through the live path's own row mapping; keep
   copying until what is left is under one chunk.
3. Switch: the version pointer, then the public views (each replaced atomically).
4. Copy what was committed up to the store's head as read *after* the switch.

Why nothing is lost without a lock between the rebuild and a live sink: an event at or below
that head is copied by step 4; an event above it was committed after the switch, so any sink
flush carrying it began after the switch and read the new pointer. Repeats (the sink and the
rebuild both writing an event) are absorbed by the idempotent tables. A PostgreSQL advisory
lock keeps a second rebuild of the same database out (`RebuildBusy`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
from clickhouse_connect.driver.client import Client

from commands.adapters.event_store import COLUMNS, StoredEvent
from projections.analytics import schema
from projections.analytics.clients import writer_client
from projections.analytics.consent import ConsentLedger
from projections.analytics.sink import ClickHouseSink
from smartcourse.settings import Settings

SELECT = (f"SELECT {COLUMNS} FROM event_store.events"
          " WHERE position > %s AND position <= %s ORDER BY position")
Progress = Callable[[int, int], None]  # (position copied up to, target head)


@dataclass
class RebuildResult:
    version: int  # now live
    previous: int  # live before (0: none)
    events: int  # copied from the store
    upto: int  # the store position the copy reached
    seconds: float
    dropped: list[int] = field(default_factory=list)


class RebuildBusy(RuntimeError):
    """Another rebuild of the same analytics database is running."""


def hold_rebuild_lock(conn: psycopg.Connection, database: str) -> None:
    """A PostgreSQL session lock held while `conn` is open: one rebuild per database (two
    would drop each other's half-built versions). ClickHouse has no locks of its own."""
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                       [f"analytics-rebuild:{database}"]).fetchone()
    if not (row and row[0]):
        raise RebuildBusy(f"another rebuild of analytics database {database!r} is running")


def store_head(conn: psycopg.Connection) -> int:
    """Positions become visible in commit order, so everything below the head is readable."""
    row = conn.execute("SELECT coalesce(max(position), 0) FROM event_store.events").fetchone()
    return int(row[0]) if row else 0


def read_chunks(dsn: str, after: int, upto: int, size: int) -> Iterator[list[StoredEvent]]:
    """Events with after < position <= upto in order; the next chunk is read (on a thread of
    its own) while the caller inserts the current one."""
    chunks: queue.Queue[list[StoredEvent] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            with psycopg.connect(dsn) as conn, conn.transaction():
                cursor = conn.cursor(name="analytics_rebuild")
                cursor.itersize = size
                cursor.execute(SELECT, [after, upto])
                while not stop.is_set() and (rows := cursor.fetchmany(size)):
                    chunks.put([StoredEvent(*row) for row in rows])
            chunks.put(None)
        except BaseException as error:  # noqa: BLE001 - handed to the consuming thread
            chunks.put(error)

    reader = threading.Thread(target=read, name="analytics-rebuild-reader", daemon=True)
    reader.start()
    try:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.1)
        reader.join()


def copy_range(settings: Settings, client: Client, database: str, version: int, after: int,
               upto: int, size: int, progress: Progress | None = None) -> int:
    """Copy the store's events in (after, upto] into a version through the live path's sink
    (pinned to that version); returns how many."""
    consents = ConsentLedger(settings.pg_dsn)
    sink = ClickHouseSink(client, database, name="rebuild", max_rows=size,
                          max_seconds=float("inf"), version=version, consents=consents)
    copied = 0
    try:
        for chunk in read_chunks(settings.pg_dsn, after, upto, size):
            sink.write(chunk)
            copied += len(chunk)
            if progress:
                progress(chunk[-1].position, upto)
    except BaseException:
        sink.discard()
        with contextlib.suppress(Exception):  # the first error is the one to report
            sink.close()
        consents.close()
        raise
    sink.close()
    consents.close()
    return copied


def rebuild(settings: Settings, *, database: str | None = None, chunk_size: int | None = None,
            keep_previous: bool = True, progress: Progress | None = None) -> RebuildResult:
    """Build the next version from the event store and make it live; the previous version is
    kept for comparison or rollback (older ones are dropped) unless `keep_previous=False`."""
    started = time.monotonic()
    db = database or settings.analytics_database
    size = chunk_size or settings.analytics_rebuild_chunk
    client = writer_client(settings)
    try:
        with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
            hold_rebuild_lock(conn, db)
            schema.ensure_control(client, db)
            previous = schema.live_version(client, db)
            schema.drop_versions(client, db, keep={n for n in schema.versions(client, db)
                                                   if n <= previous})  # half-built ones
            version = previous + 1
            schema.create_version(client, db, version)
            events, upto, head = 0, 0, store_head(conn)
            while True:  # until less than a chunk is left for after the switch
                events += copy_range(settings, client, db, version, upto, head, size, progress)
                upto, head = head, store_head(conn)
                if head - upto <= size:
                    break
            schema.publish(client, db, version, built_upto=upto)
            head = store_head(conn)  # read after the switch: see the module docstring
            events += copy_range(settings, client, db, version, upto, head, size, progress)
            upto = head
            keep = {version, previous} if keep_previous else {version}
            dropped = schema.drop_versions(client, db, keep=keep)
        return RebuildResult(version, previous, events, upto,
                             round(time.monotonic() - started, 3), dropped)
    finally:
        client.close()
