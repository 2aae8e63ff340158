"""Where the read models have got to: projection positions and the relay's checkpoint.

A projection's position is the minimum over its (topic, partition) rows in
`read_models.projection_positions` (docs/read-models.md), as `projections.positions`
computes it; one without rows is at 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import class_row

from projections.positions import aprojection_positions

# The read models' projections, as named in read_models.projections.
COURSE_CATALOG = "course_catalog"
COURSE_DETAIL = "course_detail"
INSTRUCTOR_COURSES = "instructor_courses"
STUDENT_ENROLLMENTS = "student_enrollments"
COURSE_ROSTER = "course_roster"
AUDIT_LOG = "audit_log"
USER_PROFILES = "user_profiles"
QUIZ_ATTEMPTS = "quiz_attempts"
ENHANCEMENT_DRAFTS = "enhancement_drafts"

RELAY_CHECKPOINT = "kafka-relay"  # event_store.checkpoints row of the outbox relay

STATUSES = """
WITH pos AS (
    SELECT projection, min(position) AS position
    FROM read_models.projection_positions GROUP BY projection
), moved AS (  -- when the projection's position last moved: its laggard partitions' update
    SELECT pp.projection, max(pp.updated_at) AS moved_at
    FROM read_models.projection_positions pp JOIN pos USING (projection)
    WHERE pp.position = pos.position GROUP BY pp.projection
)
SELECT p.name, p.state, p.live_version, p.rebuild_version, p.rebuild_position,
       coalesce(pos.position, 0) AS position, coalesce(moved.moved_at, p.updated_at) AS moved_at,
       %s::bigint AS relay_position, now() AS checked_at
FROM read_models.projections p
LEFT JOIN pos ON pos.projection = p.name
LEFT JOIN moved ON moved.projection = p.name
ORDER BY p.name
"""


@dataclass(frozen=True)
class ProjectionRow:
    name: str
    state: str
    live_version: int
    rebuild_version: int | None
    rebuild_position: int | None
    position: int
    moved_at: datetime | None
    relay_position: int | None
    checked_at: datetime

    @property
    def lag_events(self) -> int | None:
        """Events the relay has published that the projection has not applied."""
        if self.relay_position is None:
            return None
        return max(0, self.relay_position - self.position)

    @property
    def lag_seconds(self) -> float:
        """How long the position has stood still while behind; 0 when caught up."""
        if not self.lag_events or self.moved_at is None:
            return 0.0
        return max(0.0, (self.checked_at - self.moved_at).total_seconds())


async def positions(conn: AsyncConnection, names: Iterable[str],
                    partitions_per_topic: int | None = None,
                    topic_prefix: str | None = None) -> dict[str, int]:
    """Each named projection's position: 0 until it has handled something in every
    partition of its topics (a silent partition may hold events it has not applied)."""
    every = await aprojection_positions(conn, partitions_per_topic, topic_prefix=topic_prefix)
    return {name: every.get(name, 0) for name in sorted(set(names))}


async def relay_position(conn: AsyncConnection) -> int | None:
    """The relay's checkpoint (an operational row, not an event): None if it never ran."""
    cur = await conn.execute("SELECT position FROM event_store.checkpoints WHERE name = %s",
                             [RELAY_CHECKPOINT])
    row = await cur.fetchone()
    return row[0] if row else None


async def statuses(conn: AsyncConnection, relay: int | None,
                   partitions_per_topic: int | None = None,
                   topic_prefix: str | None = None) -> list[ProjectionRow]:
    """Every projection's state, position (the same rule as the waits use) and lag."""
    reached = await aprojection_positions(conn, partitions_per_topic, topic_prefix=topic_prefix)
    async with conn.cursor(row_factory=class_row(ProjectionRow)) as cur:
        await cur.execute(STATUSES, [relay])
        rows = await cur.fetchall()
    return [replace(r, position=reached.get(r.name, 0)) for r in rows]
