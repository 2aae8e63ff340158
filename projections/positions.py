"""Where each projection has got to, for read-your-writes (ADR 0004, decision 2).

A projection's position per (topic, partition) is the highest event or watermark position it
handled there, written in the same transaction as its rows. A partition whose head (the last
event the relay delivered there, `event_store.partition_heads`, saved with the relay's
checkpoint) it has handled counts as at the relay's checkpoint: nothing up to there is left
for it in that partition, marker or not. Its position overall is the minimum over its
partitions: every event at or below it has been applied (or dead-lettered).
Each move is announced with NOTIFY on `POSITIONS_CHANNEL` (payload: the projection's name), so
readers waiting on a consistency token need not poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from psycopg import AsyncConnection, Connection

if TYPE_CHECKING:
    from projections.base import Projection

POSITIONS_CHANNEL = "read_models_positions"

SAVE = """
INSERT INTO read_models.projection_positions AS pp (projection, topic, partition, position)
SELECT %(projection)s, * FROM unnest(%(topics)s::text[], %(partitions)s::int[],
                                     %(positions)s::bigint[])
ON CONFLICT (projection, topic, partition) DO UPDATE
SET position = excluded.position, updated_at = now()
WHERE excluded.position > pp.position
"""

ADVANCE = """
UPDATE read_models.projection_positions SET position = %(position)s, updated_at = now()
WHERE projection = %(projection)s AND position < %(position)s
"""

# Only the topics of one deployment count (a test or an experiment may feed the same
# projections from topics of its own prefix; their rows must not hold the live one back).
READ = """
SELECT p.name,
       coalesce(min(CASE WHEN pp.position >= h.position THEN greatest(pp.position, c.position)
                         ELSE pp.position END), 0),
       count(DISTINCT (pp.topic, pp.partition))
FROM read_models.projections p
LEFT JOIN read_models.projection_positions pp
       ON pp.projection = p.name AND (%(prefix)s::text IS NULL OR pp.topic LIKE %(prefix)s)
LEFT JOIN event_store.partition_heads h ON h.topic = pp.topic AND h.partition = pp.partition
LEFT JOIN event_store.checkpoints c ON c.name = h.relay
GROUP BY p.name
"""
# Before a relay of this release created the heads table: watermark markers alone.
READ_WITHOUT_HEADS = """
SELECT p.name, coalesce(min(pp.position), 0), count(pp.position)
FROM read_models.projections p
LEFT JOIN read_models.projection_positions pp
       ON pp.projection = p.name AND (%(prefix)s::text IS NULL OR pp.topic LIKE %(prefix)s)
GROUP BY p.name
"""
HAS_HEADS = "SELECT to_regclass('event_store.partition_heads') IS NOT NULL"
_heads_seen = False  # once the table exists it stays: no need to ask again


def _read(has_heads: bool) -> str:
    global _heads_seen
    _heads_seen = _heads_seen or has_heads
    return READ if _heads_seen else READ_WITHOUT_HEADS


def _prefix(topic_prefix: str | None) -> dict[str, str | None]:
    escaped = None if topic_prefix is None else (
        topic_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%")
    return {"prefix": escaped}


async def save_positions(conn: AsyncConnection, projection: str,
                         positions: Mapping[tuple[str, int], int]) -> None:
    """Move the projection's partitions forward (never back) and announce it."""
    if not positions:
        return
    keys = list(positions)
    async with conn.pipeline():
        cur = conn.cursor()
        await cur.execute(SAVE, {
            "projection": projection, "topics": [t for t, _ in keys],
            "partitions": [p for _, p in keys], "positions": list(positions.values())})
        await cur.execute("SELECT pg_notify(%s, %s)", [POSITIONS_CHANNEL, projection])


async def advance_positions(conn: AsyncConnection, projection: str, position: int) -> None:
    """After a replay switched versions: the new one holds every event up to `position`."""
    await conn.execute(ADVANCE, {"projection": projection, "position": position})
    await conn.execute("SELECT pg_notify(%s, %s)", [POSITIONS_CHANNEL, projection])


def _positions(rows: list[tuple[str, int, int]], partitions_per_topic: int | None,
               projections: Mapping[str, Projection] | None) -> dict[str, int]:
    if partitions_per_topic is None:
        return {name: position for name, position, _ in rows}
    if projections is None:
        from projections.registry import PROJECTIONS as projections

    def expected(name: str) -> int:
        known = projections.get(name)
        return len(known.aggregate_types) * partitions_per_topic if known else 0

    return {name: position if count >= expected(name) else 0 for name, position, count in rows}


def projection_positions(conn: Connection, partitions_per_topic: int | None = None,
                         projections: Mapping[str, Projection] | None = None,
                         topic_prefix: str | None = None) -> dict[str, int]:
    """Every projection's position: the minimum over its partitions (0 before any).

    Give `partitions_per_topic` to count a projection that has not yet heard from every
    partition of its topics as 0 (a partition without a row may hold unapplied events);
    `projections` tells their topics (default: the registry). Give `topic_prefix` to count
    only the topics of that prefix."""
    has_heads = _heads_seen or bool(conn.execute(HAS_HEADS).fetchone()[0])  # type: ignore[index]
    rows = conn.execute(_read(has_heads), _prefix(topic_prefix)).fetchall()
    return _positions(rows, partitions_per_topic, projections)


async def aprojection_positions(conn: AsyncConnection, partitions_per_topic: int | None = None,
                                projections: Mapping[str, Projection] | None = None,
                                topic_prefix: str | None = None) -> dict[str, int]:
    """`projection_positions` for an async connection."""
    has_heads = _heads_seen or bool((await (await conn.execute(HAS_HEADS)).fetchone())[0])  # type: ignore[index]
    cur = await conn.execute(_read(has_heads), _prefix(topic_prefix))
    return _positions(await cur.fetchall(), partitions_per_topic, projections)
