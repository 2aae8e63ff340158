"""The read side's tables: shared bookkeeping in `read_models`, one schema per projection
version (`rm_<projection>_v<N>`), and the views `read_models.<table>` over the live version.

`ensure_read_models` is idempotent and safe when several processes start at once (it holds an
advisory lock); a projection it meets for the first time gets an empty version 1, which a
`smartcourse replay` fills from the event store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from psycopg import AsyncConnection

from projections.base import Projection

BOOTSTRAP_LOCK = "read_models:bootstrap"

BOOKKEEPING = """
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE SCHEMA IF NOT EXISTS read_models;
CREATE TABLE IF NOT EXISTS read_models.projections (
    name             text PRIMARY KEY,
    live_version     int NOT NULL,
    state            text NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'rebuilding')),
    rebuild_version  int,
    rebuild_position bigint,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- The fingerprint of the DDL the live version was built with: a release that changes a
-- projection's tables is rebuilt into a new version at the worker's start (see `stale`).
ALTER TABLE read_models.projections ADD COLUMN IF NOT EXISTS ddl_sha text;
CREATE TABLE IF NOT EXISTS read_models.projection_positions (
    projection  text NOT NULL,
    topic       text NOT NULL,
    partition   int NOT NULL,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);
"""

# In every version schema: the version rule's memory and the parked aggregates (ADR 0004).
VERSION_BOOKKEEPING = """
CREATE TABLE {s}.applied (
    aggregate_id uuid PRIMARY KEY,
    version      int NOT NULL
);
CREATE TABLE {s}.parked (
    aggregate_id uuid PRIMARY KEY,
    reason       text NOT NULL,
    error        text NOT NULL,
    event_id     uuid,  -- the first dead letter (unknown for an undecodable message)
    version      int,
    position     bigint
);
"""


async def ensure_read_models(conn: AsyncConnection,
                             projections: Iterable[Projection] | None = None) -> None:
    """Create what is missing: the bookkeeping tables, and version 1 with its views for every
    projection not yet known. Existing versions are left alone (a changed DDL needs a replay)."""
    if projections is None:
        from projections.registry import PROJECTIONS
        projections = PROJECTIONS.values()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [BOOTSTRAP_LOCK])
        await conn.execute(BOOKKEEPING)
        cur = await conn.execute("SELECT name FROM read_models.projections")
        known = {name for (name,) in await cur.fetchall()}
        for projection in projections:
            if projection.name in known:
                continue
            await create_version(conn, projection, 1)
            await point_views(conn, projection, 1)
            await conn.execute(
                "INSERT INTO read_models.projections (name, live_version, ddl_sha)"
                " VALUES (%s, 1, %s)", [projection.name, ddl_fingerprint(projection)])


def ddl_fingerprint(projection: Projection) -> str:
    """What the version schemas of `projection` are made of, as this code creates them."""
    return hashlib.sha256((projection.ddl + VERSION_BOOKKEEPING).encode()).hexdigest()[:16]


async def stale(conn: AsyncConnection, projections: Iterable[Projection]) -> list[Projection]:
    """The projections whose live version was built by other DDL than this code's (or before
    fingerprints were kept): their tables may lack columns the fold now writes."""
    cur = await conn.execute("SELECT name, ddl_sha FROM read_models.projections")
    built = dict(await cur.fetchall())
    return [p for p in projections
            if p.name in built and built[p.name] != ddl_fingerprint(p)]


async def create_version(conn: AsyncConnection, projection: Projection, version: int) -> None:
    """An empty version schema with the projection's tables (dropped first if it exists)."""
    schema = projection.schema(version)
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.execute(projection.ddl.replace("{s}", schema))
    await conn.execute(VERSION_BOOKKEEPING.replace("{s}", schema))


async def point_views(conn: AsyncConnection, projection: Projection, version: int) -> None:
    """Make `read_models.<table>` show `version` (dropped and created: columns may differ)."""
    schema = projection.schema(version)
    for table in projection.views:
        await conn.execute(f"DROP VIEW IF EXISTS read_models.{table}")
        await conn.execute(f"CREATE VIEW read_models.{table} AS SELECT * FROM {schema}.{table}")


async def version_schemas(conn: AsyncConnection, projection: Projection) -> list[int]:
    """The versions of a projection that have a schema, oldest first."""
    prefix = projection.schema(0)[:-1]
    cur = await conn.execute(
        "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [prefix])
    found = [name.removeprefix(prefix) for (name,) in await cur.fetchall()]
    return sorted(int(v) for v in found if v.isdigit())


async def drop_projection(conn: AsyncConnection, projection: Projection) -> None:
    """Remove a projection entirely: its version schemas, views and bookkeeping rows (to
    retire one, or to clean up a private copy made by a test or a benchmark)."""
    async with conn.transaction():
        for table in projection.views:
            await conn.execute(f"DROP VIEW IF EXISTS read_models.{table}")
        for version in await version_schemas(conn, projection):
            await conn.execute(f"DROP SCHEMA {projection.schema(version)} CASCADE")
        await conn.execute("DELETE FROM read_models.projections WHERE name = %s",
                           [projection.name])
        await conn.execute("DELETE FROM read_models.projection_positions WHERE projection = %s",
                           [projection.name])
