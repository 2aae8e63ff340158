"""Checksums of a projection version's tables: to show that a rebuild equals what live
processing built (the design's promise), table by table, optionally for some ids only."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from psycopg import AsyncConnection

from projections.base import Projection

KEYS = ("enrollment_id", "course_id", "user_id", "subject_id",  # how a row names its aggregate
        "aggregate_id")


async def table_checksums(conn: AsyncConnection, projection: Projection, version: int,
                          ids: Collection[UUID] | None = None) -> dict[str, tuple[int, str]]:
    """Per table of the version: (rows, md5 of the rows' text in order). With `ids`, only rows
    whose aggregate key (enrollment, course, or the bookkeeping's aggregate id) is in `ids`."""
    schema = projection.schema(version)
    cur = await conn.execute(
        "SELECT table_name, array_agg(column_name::text) FROM information_schema.columns"
        " WHERE table_schema = %s GROUP BY table_name ORDER BY table_name", [schema])
    sums: dict[str, tuple[int, str]] = {}
    for table, columns in await cur.fetchall():
        where, params = "", {}
        if ids is not None:
            key = next(k for k in KEYS if k in columns)
            where, params = f" WHERE t.{key} = ANY(%(ids)s)", {"ids": list(ids)}
        row = await (await conn.execute(
            f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
            f" FROM {schema}.{table} t{where}", params)).fetchone()
        assert row is not None
        sums[table] = (int(row[0]), str(row[1]))
    return sums
