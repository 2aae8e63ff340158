"""The data keys in PostgreSQL (`privacy.data_keys`), one per user, cached per process.

Erasure deletes the row and records a tombstone (`privacy.erasures`), so no later event can
mint a new key for an erased user. A cached key is dropped at once by the process that shreds
it; another process's cache learns of the erasure through the `user.erased` event it folds
(the erased aggregate refuses further personal data), and its cached key ages out after
`TTL_SECONDS` at most.
"""

from __future__ import annotations

import time
from importlib.resources import files
from uuid import UUID

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from privacy.sealing import new_key

TTL_SECONDS = 60.0

GET = "SELECT data_key FROM privacy.data_keys WHERE subject_id = %s"
CREATE = """
WITH erased AS (SELECT 1 FROM privacy.erasures WHERE subject_id = %(s)s),
created AS (
    INSERT INTO privacy.data_keys (subject_id, data_key)
    SELECT %(s)s, %(k)s WHERE NOT EXISTS (SELECT 1 FROM erased)
    ON CONFLICT (subject_id) DO NOTHING
    RETURNING data_key)
SELECT data_key FROM created
UNION ALL SELECT data_key FROM privacy.data_keys WHERE subject_id = %(s)s
LIMIT 1
"""
SHRED = """
WITH tomb AS (
    INSERT INTO privacy.erasures (subject_id) VALUES (%(s)s) ON CONFLICT DO NOTHING)
DELETE FROM privacy.data_keys WHERE subject_id = %(s)s RETURNING 1
"""


def schema_sql() -> str:
    return files("privacy").joinpath("schema.sql").read_text()


async def ensure_schema(conn: AsyncConnection) -> None:
    await conn.execute(schema_sql())


class PostgresKeys:
    def __init__(self, pool: AsyncConnectionPool, ttl: float = TTL_SECONDS) -> None:
        self.pool = pool
        self.ttl = ttl
        self._cache: dict[UUID, tuple[bytes, float]] = {}

    def _cached(self, subject: UUID) -> bytes | None:
        found = self._cache.get(subject)
        if found is None:
            return None
        key, until = found
        if until < time.monotonic():
            del self._cache[subject]
            return None
        return key

    def _remember(self, subject: UUID, key: bytes | None) -> bytes | None:
        if key is not None:
            self._cache[subject] = (key, time.monotonic() + self.ttl)
        return key

    async def get(self, subject: UUID) -> bytes | None:
        key = self._cached(subject)
        if key is not None:
            return key
        async with self.pool.connection() as conn:
            row = await (await conn.execute(GET, [subject])).fetchone()
        return self._remember(subject, bytes(row[0]) if row else None)

    async def get_or_create(self, subject: UUID) -> bytes | None:
        key = self._cached(subject)
        if key is not None:
            return key
        async with self.pool.connection() as conn:
            row = await (await conn.execute(CREATE, {"s": subject, "k": new_key()})).fetchone()
        return self._remember(subject, bytes(row[0]) if row else None)

    async def shred(self, subject: UUID) -> bool:
        self._cache.pop(subject, None)
        async with self.pool.connection() as conn:
            row = await (await conn.execute(SHRED, {"s": subject})).fetchone()
        return row is not None
