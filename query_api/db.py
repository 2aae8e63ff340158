"""The read connection pool and the snapshot each request reads in.

Connections are read-only at the server (the query API cannot write) and every request
reads inside one REPEATABLE READ transaction: the positions it reports and the rows it
returns come from the same snapshot, and sinks write rows and positions in one
transaction, so `X-Read-Position` is exactly what the answer reflects.

The transaction first locks the views it reads (ACCESS SHARE), before its snapshot is taken:
a replay's switch (views repointed, tail applied, positions advanced in one transaction)
then falls wholly before or after it. Without the lock a snapshot taken before the switch
could read the new version's tables without the tail the switch applied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from psycopg import AsyncConnection, IsolationLevel, sql
from psycopg_pool import AsyncConnectionPool

from projections.registry import PROJECTIONS
from query_api.positions import positions
from smartcourse.settings import Settings


@dataclass(frozen=True)
class Snapshot:
    """A read transaction and the position (min over the projections read) it reflects."""

    conn: AsyncConnection
    position: int
    positions: dict[str, int]


def lock_views(projections: Iterable[str]) -> sql.Composed:
    """LOCK the projections' views `read_models.<table>` (and so their live tables)."""
    views = [sql.Identifier("read_models", view)
             for name in projections for view in PROJECTIONS[name].views]
    return sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(sql.SQL(", ").join(views))


async def _configure(conn: AsyncConnection) -> None:
    await conn.set_isolation_level(IsolationLevel.REPEATABLE_READ)
    await conn.set_read_only(True)


def create_pool(settings: Settings) -> AsyncConnectionPool:
    options = (f"-c default_transaction_read_only=on"
               f" -c statement_timeout={settings.query_api_statement_timeout_ms}")
    return AsyncConnectionPool(
        settings.pg_dsn, min_size=2, max_size=settings.query_api_pool_size, open=False,
        timeout=10, kwargs={"autocommit": True, "options": options,
                            "application_name": "smartcourse-query-api"},
        configure=_configure,
    )


@asynccontextmanager
async def snapshot(pool: AsyncConnectionPool, projections: Iterable[str],
                   partitions_per_topic: int | None = None,
                   topic_prefix: str | None = None) -> AsyncIterator[Snapshot]:
    projections = tuple(projections)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(lock_views(projections))
        reached = await positions(conn, projections, partitions_per_topic, topic_prefix)
        yield Snapshot(conn, min(reached.values(), default=0), reached)
