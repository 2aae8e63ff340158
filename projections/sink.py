"""The PostgreSQL sink: applies a batch of Kafka deliveries to one projection's live version.

Public API of `projections/` (what `streams/`, `query_api/` and the CLI use):

- `projections.registry.PROJECTIONS: dict[str, Projection]`, `get(name) -> Projection`
  (raises `UnknownProjection`). A `Projection` has `name`, `aggregate_types`,
  `topics(prefix="smartcourse") -> tuple[str, ...]`, `views` (the tables the query API reads
  as `read_models.<table>`, see docs/read-models.md) and a pure `fold(StoredEvent)`.
- `projections.deliveries`: `EventDelivery(event, topic, partition, offset)`,
  `WatermarkDelivery(topic, partition, position)`, `DeadLetter(delivery, reason, error)`
  (`describe()` -> JSON-ready dict for the dead-letter topic), `BatchResult`; re-exported here.
- `PostgresProjector(projection)`:
  `await apply(conn, deliveries) -> BatchResult` one batch, one transaction;
  `await retry(conn, dead_letter_deliveries) -> BatchResult` replays dead letters (unparks);
  `await park(conn, aggregate_id, reason, error)` for a message that could not be decoded.
  `conn` is an `AsyncConnection` not inside a transaction (autocommit suits best).
- `projections.schema`: `ensure_read_models(conn, projections=None)` bootstrap (idempotent,
  safe when processes start together), `drop_projection(conn, projection)`.
- `projections.positions`: `projection_positions(conn, partitions_per_topic=None) ->
  dict[str, int]` (sync; min over partitions), `aprojection_positions` (async),
  `POSITIONS_CHANNEL` (NOTIFY, payload the projection's name, on every move).
- `projections.replay`: `await plan_replay(conn, projection, restart=False) -> ReplayPlan`,
  `await replay_projection(dsn, projection, chunk_size=, restart=, progress=)
  -> ReplayOutcome` (the engine of `smartcourse replay`).
- `projections.checksums.table_checksums(conn, projection, version, ids=None)`.

A batch (ADR 0004): take the projection's advisory lock, read the live version, apply each
event only if it is its aggregate's next version (duplicates skipped; a gap, a fold that
raises or a write PostgreSQL refuses parks the aggregate and returns a dead letter, and the
aggregate's later events follow it), then move the partition positions, all in one commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

from psycopg import AsyncConnection

from projections.base import Projection
from projections.deliveries import (
    UNDECODABLE,
    BatchResult,
    DeadLetter,
    Delivery,
    EventDelivery,
    WatermarkDelivery,
)
from projections.positions import save_positions
from projections.registry import get
from projections.schema import ensure_read_models
from projections.writer import apply_events

__all__ = [
    "UNDECODABLE", "BatchResult", "DeadLetter", "Delivery", "EventDelivery", "PostgresProjector",
    "WatermarkDelivery",
]

UNPARK = "DELETE FROM {s}.parked WHERE aggregate_id = ANY(%(ids)s)"
PARK = """
INSERT INTO {s}.parked (aggregate_id, reason, error) VALUES (%(id)s, %(reason)s, %(error)s)
ON CONFLICT (aggregate_id) DO NOTHING
"""


class ProjectionMissing(LookupError):
    """read_models.projections has no row for the projection (bootstrap did not run)."""


class PostgresProjector:
    """Applies batches for one projection; one instance per projection per worker."""

    def __init__(self, projection: Projection | str) -> None:
        self.projection = get(projection) if isinstance(projection, str) else projection
        self._bootstrapped = False

    async def apply(self, conn: AsyncConnection, deliveries: Sequence[Delivery]) -> BatchResult:
        """Apply events and watermarks in delivery order; returns dead letters to publish."""
        events = [d for d in deliveries if isinstance(d, EventDelivery)]
        positions = _positions(deliveries)
        async with self._batch(conn) as version:
            written = await apply_events(conn, self.projection, self._schema(version), events)
            await save_positions(conn, self.projection.name, positions)
        return BatchResult(self.projection.name, version, written.applied, written.duplicates,
                           written.ignored, written.dead_letters, positions)

    async def retry(self, conn: AsyncConnection,
                    deliveries: Sequence[EventDelivery]) -> BatchResult:
        """Replay dead letters: unpark their aggregates and apply them in order. Events
        already applied are skipped; one that fails again is parked again and returned."""
        ordered = sorted(deliveries, key=lambda d: d.event.position)
        async with self._batch(conn) as version:
            schema = self._schema(version)
            ids = list({d.event.aggregate_id for d in ordered})
            await conn.execute(UNPARK.replace("{s}", schema), {"ids": ids})
            written = await apply_events(conn, self.projection, schema, ordered)
        return BatchResult(self.projection.name, version, written.applied, written.duplicates,
                           written.ignored, written.dead_letters)

    async def rebuild_aggregates(self, conn: AsyncConnection, tables: Sequence[str],
                                 deliveries: Sequence[EventDelivery]) -> BatchResult:
        """Repair: forget what the live version holds of these aggregates (their rows in
        `tables`, keyed by the aggregate's id column `enrollment_id`, and their applied
        versions), then apply their whole histories, in one transaction under the lock."""
        ordered = sorted(deliveries, key=lambda d: d.event.position)
        ids = list({d.event.aggregate_id for d in ordered})
        async with self._batch(conn) as version:
            schema = self._schema(version)
            for table in tables:
                await conn.execute(f"DELETE FROM {schema}.{table} WHERE enrollment_id = ANY(%s)",
                                   [ids])
            await conn.execute(f"DELETE FROM {schema}.applied WHERE aggregate_id = ANY(%s)", [ids])
            await conn.execute(UNPARK.replace("{s}", schema), {"ids": ids})
            written = await apply_events(conn, self.projection, schema, ordered)
        return BatchResult(self.projection.name, version, written.applied, written.duplicates,
                           written.ignored, written.dead_letters)

    async def park(self, conn: AsyncConnection, aggregate_id: UUID, reason: str = UNDECODABLE,
                   error: str = "") -> None:
        """Park an aggregate whose message could not even be decoded (so no event exists to
        hand to `apply`); its later events then follow it into the dead letters."""
        async with self._batch(conn) as version:
            await conn.execute(PARK.replace("{s}", self._schema(version)),
                               {"id": aggregate_id, "reason": reason, "error": error})

    def _schema(self, version: int) -> str:
        return self.projection.schema(version)

    @asynccontextmanager
    async def _batch(self, conn: AsyncConnection) -> AsyncIterator[int]:
        """One transaction holding the projection's lock; yields the live version. It is read
        after the lock is granted, so a replay's switch falls wholly before or after."""
        if not self._bootstrapped:
            await ensure_read_models(conn, [self.projection])
            self._bootstrapped = True
        async with conn.transaction():
            # jit off for the batch: folds write a few rows per statement, but estimates (on a
            # large course, or a version not analysed yet) can pass jit_above_cost, and
            # compiling costs milliseconds per statement.
            await conn.execute("SELECT set_config('jit', 'off', true),"
                               " pg_advisory_xact_lock(hashtext(%s))", [self.projection.lock_key])
            cur = await conn.execute(
                "SELECT live_version FROM read_models.projections WHERE name = %s",
                [self.projection.name])
            row = await cur.fetchone()
            if row is None:
                raise ProjectionMissing(
                    f"projection {self.projection.name!r} is not bootstrapped")
            yield int(row[0])


def _positions(deliveries: Sequence[Delivery]) -> dict[tuple[str, int], int]:
    """The highest position handled per (topic, partition); deliveries without a source (from
    the event store) move nothing."""
    seen: dict[tuple[str, int], int] = {}
    for d in deliveries:
        if isinstance(d, WatermarkDelivery):
            key, position = (d.topic, d.partition), d.position
        elif d.topic is not None and d.partition is not None:
            key, position = (d.topic, d.partition), d.event.position
        else:
            continue
        if position > seen.get(key, -1):
            seen[key] = position
    return seen
