"""The `content` schema in PostgreSQL: the vector cache, the publishing workflows' progress,
and each course's searchable (ready) version; plus the readers the query API uses.

`workflows` is operational state written by the workflow as it goes (the query API shows it
at GET /workflows/{id}); `ready_versions` is what search filters on, written by the workflow
when a course becomes ready and restored from the event store by a Weaviate rebuild.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

DDL = """
CREATE SCHEMA IF NOT EXISTS content;
CREATE TABLE IF NOT EXISTS content.embedding_cache (
    model      text        NOT NULL,   -- the encoder's name: vectors of two models never mix
    text_hash  text        NOT NULL,   -- SHA-256 of the text embedded
    dims       int         NOT NULL,
    vector     bytea       NOT NULL,   -- float32, little-endian
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, text_hash)
);
CREATE TABLE IF NOT EXISTS content.workflows (
    workflow_id     uuid        PRIMARY KEY,
    course_id       uuid        NOT NULL,
    content_version int         NOT NULL,
    state           text        NOT NULL,
    steps           jsonb       NOT NULL DEFAULT '{}',
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS workflows_course ON content.workflows (course_id, content_version);
CREATE TABLE IF NOT EXISTS content.ready_versions (
    course_id       uuid        PRIMARY KEY,
    content_version int         NOT NULL,
    workflow_id     uuid        NOT NULL,
    chunk_count     int         NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
"""
BOOTSTRAP_LOCK = "content:bootstrap"  # several processes may start at once; one creates
INDEX_LOCK = "content:index:"  # + the Weaviate alias: live runs share it, a rebuild's switch
# takes it alone (see rebuild.py)

# Only ever moves forward: an old run finishing late never hides a newer ready version.
UPSERT_READY = """
INSERT INTO content.ready_versions (course_id, content_version, workflow_id, chunk_count)
VALUES (%s, %s, %s, %s)
ON CONFLICT (course_id) DO UPDATE SET content_version = EXCLUDED.content_version,
    workflow_id = EXCLUDED.workflow_id, chunk_count = EXCLUDED.chunk_count, updated_at = now()
WHERE content.ready_versions.content_version < EXCLUDED.content_version
"""


async def ensure_content_schema(conn: AsyncConnection) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [BOOTSTRAP_LOCK])
        await conn.execute(DDL)


@asynccontextmanager
async def index_lock(pool: AsyncConnectionPool, alias: str,
                     shared: bool) -> AsyncIterator[None]:
    """Held by a live run (shared) and a rebuild's catch-up and switch (alone), so no run
    writes into a collection that is being switched away from."""
    kind = "_shared" if shared else ""
    async with pool.connection() as conn:
        await conn.execute(f"SELECT pg_advisory_lock{kind}(hashtext(%s))", [INDEX_LOCK + alias])
        try:
            yield
        finally:
            await conn.execute(f"SELECT pg_advisory_unlock{kind}(hashtext(%s))",
                               [INDEX_LOCK + alias])


@dataclass(frozen=True)
class WorkflowStatus:
    """A publishing workflow as GET /workflows/{id} shows it."""

    workflow_id: UUID
    course_id: UUID
    content_version: int
    state: str  # QUEUED, CHUNKING, EMBEDDING, INDEXING, READY, FAILED
    steps: dict[str, Any]  # done (in order), attempts, restarts, chunk_count, computed, ...
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ReadyVersion:
    course_id: UUID
    content_version: int
    workflow_id: UUID
    chunk_count: int


async def workflow_status(conn: AsyncConnection, workflow_id: UUID) -> WorkflowStatus | None:
    """None: the workflow is unknown, or its course.published has not reached the worker."""
    cur = conn.cursor(row_factory=class_row(WorkflowStatus))
    await cur.execute(
        "SELECT workflow_id, course_id, content_version, state, steps, error, created_at,"
        " updated_at FROM content.workflows WHERE workflow_id = %s", [workflow_id])
    return await cur.fetchone()


async def ready_version(conn: AsyncConnection, course_id: UUID) -> ReadyVersion | None:
    """The course's searchable content version; None before it was first made ready."""
    cur = conn.cursor(row_factory=class_row(ReadyVersion))
    await cur.execute(
        "SELECT course_id, content_version, workflow_id, chunk_count"
        " FROM content.ready_versions WHERE course_id = %s", [course_id])
    return await cur.fetchone()


async def ready_versions(conn: AsyncConnection, course_ids: set[UUID]) -> dict[UUID, int]:
    """The searchable content version of each of these courses that has one."""
    cur = await conn.execute(
        "SELECT course_id, content_version FROM content.ready_versions"
        " WHERE course_id = ANY(%s)", [list(course_ids)])
    return {course_id: version for course_id, version in await cur.fetchall()}


async def record_ready(conn: AsyncConnection, ready: ReadyVersion) -> None:
    await conn.execute(UPSERT_READY, [ready.course_id, ready.content_version, ready.workflow_id,
                                      ready.chunk_count])
