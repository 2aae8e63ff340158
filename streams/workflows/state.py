"""Where the publishing workflow keeps its state as it goes: `content.workflows`.

Saving a READY state also records the course's ready version (what search filters on), in
the same transaction, so search switches to a version exactly when its run is READY.
"""

from __future__ import annotations

import json
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from projections.content.store import ReadyVersion, record_ready
from streams.workflows.publishing import READY, WorkflowState

UPSERT = """
INSERT INTO content.workflows (workflow_id, course_id, content_version, state, steps, error)
VALUES (%s, %s, %s, %s, %s::jsonb, %s)
ON CONFLICT (workflow_id) DO UPDATE SET state = EXCLUDED.state, steps = EXCLUDED.steps,
    error = EXCLUDED.error, updated_at = now()
"""


class WorkflowStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def load(self, workflow_id: UUID) -> WorkflowState | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT workflow_id, course_id, content_version, state, steps, error"
                " FROM content.workflows WHERE workflow_id = %s", [workflow_id])
            row = await cur.fetchone()
        if row is None:
            return None
        workflow, course, version, state, steps, error = row
        return WorkflowState.restore(workflow, course, version, state, steps, error)

    async def save(self, state: WorkflowState) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(UPSERT, [state.workflow_id, state.course_id,
                                        state.content_version, state.state,
                                        json.dumps(state.details()), state.error])
            if state.state == READY:
                await record_ready(conn, ReadyVersion(state.course_id, state.content_version,
                                                      state.workflow_id, state.chunk_count))
