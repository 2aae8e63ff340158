"""The ClickHouse sink: buffers events and inserts them in large batches, then checkpoints.

ClickHouse wants few, large inserts (a part per insert, merged later), so the sink collects up
to `max_rows` rows or `max_seconds`, whichever comes first, and `close()` flushes the rest. A
flush inserts the rows into the live version's fact table (the materialized views fill the
aggregates in the same insert) and only after ClickHouse acknowledges it writes the partitions'
new positions to `sink_checkpoints`. A crash (kill -9) at any point loses nothing: what was not
acknowledged is redelivered, and what was is absorbed (the checkpoint skips it, or the insert
token, or the idempotent tables). Not thread-safe: one sink per consumer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from commands.adapters.event_store import StoredEvent
from projections.analytics import schema
from projections.analytics.consent import ConsentLedger
from projections.analytics.rows import COLUMNS, Batch, Incoming, Source, prepare
from projections.deliveries import WatermarkDelivery

# Server error codes meaning "the version we wrote to is gone": a rebuild switched and dropped
# it between reading the pointer and inserting. Read the pointer again and retry once.
UNKNOWN_TABLE, UNKNOWN_DATABASE = 60, 81


@dataclass
class FlushResult:
    version: int
    inserted: int  # rows sent (ClickHouse may still drop a repeated insert by its token)
    duplicates: int
    skipped: int
    positions: dict[Source, int] = field(default_factory=dict)


class ClickHouseSink:
    """Feeds the analytics fact table; one instance per consumer (e.g. per Faust agent).

    `version` pins the version written (the rebuild fills a new one); by default the live
    version is read at every flush. Flushes are synchronous on purpose: mapping the next batch
    on one thread while another inserted was measured slower on these machines (the threads
    contend for the GIL); the overlap that pays is ClickHouse inserting while the worker takes
    and decodes its next batch (see streams/agents/analytics.py).
    """

    def __init__(self, client: Client, database: str = "smartcourse", *, name: str = "analytics",
                 max_rows: int = 20_000, max_seconds: float = 1.0, version: int | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 consents: ConsentLedger | None = None) -> None:
        self.client = client
        self.database = database
        self.name = name
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.version = version
        self._clock = clock
        self.consents = consents  # the live sink and rebuilds pass one (docs/adr/0031)
        self._buffer: list[Incoming] = []
        self._events = 0  # events (not watermarks) in the buffer
        self._since: float | None = None  # when the oldest buffered item arrived
        self._checkpoints: dict[Source, int] | None = None  # loaded at the first flush

    # -- feeding -----------------------------------------------------------------------------
    def write(self, items: Iterable[Incoming]) -> FlushResult | None:
        """Buffer events/deliveries/watermarks; flushes when the buffer is full or old."""
        for item in items:
            self._buffer.append(item)
            self._events += not isinstance(item, WatermarkDelivery)
        if self._buffer and self._since is None:
            self._since = self._clock()
        return self.flush() if self.due() else None

    def due(self) -> bool:
        if not self._buffer:
            return False
        return self._events >= self.max_rows or (
            self._since is not None and self._clock() - self._since >= self.max_seconds)

    def flush_if_due(self) -> FlushResult | None:
        """For a periodic timer: flushes a buffer that has waited `max_seconds`."""
        return self.flush() if self.due() else None

    def close(self) -> FlushResult | None:
        """Flush what is left (on shutdown); the client stays the caller's."""
        return self.flush()

    def __enter__(self) -> ClickHouseSink:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:  # after an error, unacknowledged rows are left to redelivery
            self.close()

    @property
    def pending(self) -> int:
        return self._events

    def discard(self) -> None:
        """Forget the buffer unflushed (its items will be redelivered, e.g. after a failed
        flush whose batch the caller hands over again)."""
        self._buffer, self._events, self._since = [], 0, None

    # -- flushing ----------------------------------------------------------------------------
    def flush(self) -> FlushResult | None:
        """Insert the buffer as one batch, then checkpoint; returns once ClickHouse has
        acknowledged both. On an error the buffer is kept (call again to retry, or `discard`
        and hand the batch again) and no checkpoint moves."""
        if not self._buffer:
            return None
        found = None if self.consents is None else self.consents.consents(
            item if isinstance(item, StoredEvent) else item.event for item in self._buffer
            if not isinstance(item, WatermarkDelivery))
        batch = prepare(self._buffer, self.checkpoints(), found)
        version = self._insert(batch)
        self._save_positions(batch)
        self.discard()
        return FlushResult(version, len(batch.rows), batch.duplicates, batch.skipped,
                           batch.positions)

    def _insert(self, batch: Batch) -> int:
        if self.version is not None:
            if batch.rows:
                insert_batch(self.client, self.database, self.version, batch)
            return self.version
        version = schema.live_version(self.client, self.database)
        if not batch.rows:
            return version
        try:
            self._insert_into(version, batch)
        except DatabaseError as error:
            if getattr(error, "code", None) not in (UNKNOWN_TABLE, UNKNOWN_DATABASE):
                raise
            version = schema.live_version(self.client, self.database)
            self._insert_into(version, batch)
        return version

    def _insert_into(self, version: int, batch: Batch) -> None:
        if version == 0:
            raise LookupError(f"analytics database {self.database!r} has no live version; "
                              "run ensure_schema first")
        insert_batch(self.client, self.database, version, batch)

    def _save_positions(self, batch: Batch) -> None:
        if not batch.positions:
            return
        rows = [[self.name, topic, partition, position]
                for (topic, partition), position in batch.positions.items()]
        self.client.insert(f"{self.database}.sink_checkpoints", rows,
                           column_names=["sink", "topic", "partition", "position"])
        assert self._checkpoints is not None
        self._checkpoints.update(batch.positions)

    def checkpoints(self) -> dict[Source, int]:
        """The highest position inserted per (topic, partition), from ClickHouse."""
        if self._checkpoints is None:
            self._checkpoints = read_checkpoints(self.client, self.database, self.name)
        return self._checkpoints


def insert_batch(client: Client, database: str, version: int, batch: Batch) -> None:
    """One insert into a version's fact table (its materialized views run in the same insert);
    the token lets ClickHouse drop an identical repeat of this very insert."""
    columns = list(zip(*batch.rows, strict=True))  # far cheaper than the driver's own pivot
    client.insert(f"{schema.version_database(database, version)}.events", columns,
                  column_names=COLUMNS, column_oriented=True,
                  settings={"insert_deduplication_token": batch.token})


def read_checkpoints(client: Client, database: str, sink: str) -> dict[Source, int]:
    rows = client.query(
        f"SELECT topic, partition, max(position) FROM {database}.sink_checkpoints"
        " WHERE sink = {sink:String} GROUP BY topic, partition",
        parameters={"sink": sink}).result_rows
    return {(topic, int(partition)): int(position) for topic, partition, position in rows}
