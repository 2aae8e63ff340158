"""Identity's PostgreSQL tables: the account registry (read), credentials and refresh
tokens. Refresh tokens are in PostgreSQL rather than Redis: rotation and reuse detection
need a row lock and a family-wide update in one transaction, and losing them (a Redis
restart without persistence) would log everyone out or, worse, forget revocations."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from uuid import UUID, uuid4

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


def schema_sql() -> str:
    return files("identity.adapters").joinpath("schema.sql").read_text()


async def ensure_schema(conn: AsyncConnection) -> None:
    """Run after the event store's schema (the registry's trigger sits on its table)."""
    await conn.execute(schema_sql())


@dataclass(frozen=True)
class Account:
    user_id: UUID
    role: str
    active: bool


class SqlAccounts:
    """The account registry as both APIs read it (identity.accounts)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def lookup(self, user_id: UUID) -> Account | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT role, active FROM identity.accounts WHERE user_id = %s",
                [user_id])).fetchone()
        return Account(user_id, row[0], row[1]) if row else None


class Credentials:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def get(self, user_id: UUID) -> str | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT password_hash FROM identity.credentials WHERE user_id = %s",
                [user_id])).fetchone()
        return row[0] if row else None

    async def put(self, user_id: UUID, password_hash: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO identity.credentials (user_id, password_hash) VALUES (%s, %s)"
                " ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash,"
                " changed_at = now()", [user_id, password_hash])

    async def delete(self, user_id: UUID) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM identity.credentials WHERE user_id = %s",
                               [user_id])


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Rotated:
    user_id: UUID
    family_id: UUID
    token: str


class RefreshOutcome(Exception):
    """Why a refresh token was refused: unknown, expired, revoked, or reused (the family is
    then revoked)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RefreshTokens:
    def __init__(self, pool: AsyncConnectionPool, ttl_seconds: int) -> None:
        self.pool = pool
        self.ttl = timedelta(seconds=ttl_seconds)

    async def start_family(self, user_id: UUID) -> Rotated:
        family_id = uuid4()
        token = secrets.token_urlsafe(32)
        async with self.pool.connection() as conn:
            await self._insert(conn, token, family_id, user_id)
        return Rotated(user_id, family_id, token)

    async def rotate(self, token: str) -> Rotated:
        """Spend a refresh token for a new one of the same family. A token spent before is a
        sign of theft (RFC 6819 §5.2.2.3): the whole family is revoked."""
        now = datetime.now(UTC)
        refused: str | None = None
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(
                "SELECT family_id, user_id, expires_at, used_at, revoked_at"
                " FROM identity.refresh_tokens WHERE token_hash = %s FOR UPDATE",
                [token_hash(token)])).fetchone()
            if row is None:
                raise RefreshOutcome("unknown")
            family_id, user_id, expires_at, used_at, revoked_at = row
            if revoked_at is not None:
                refused = "revoked"
            elif used_at is not None:
                await self._revoke(conn, family_id)  # committed: the refusal is raised after
                refused = "reused"
            elif expires_at <= now:
                refused = "expired"
            else:
                await conn.execute("UPDATE identity.refresh_tokens SET used_at = now()"
                                   " WHERE token_hash = %s", [token_hash(token)])
                new = secrets.token_urlsafe(32)
                await self._insert(conn, new, family_id, user_id)
        if refused is not None:
            raise RefreshOutcome(refused)
        return Rotated(user_id, family_id, new)

    async def family_of(self, token: str) -> UUID | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT family_id FROM identity.refresh_tokens WHERE token_hash = %s",
                [token_hash(token)])).fetchone()
        return row[0] if row else None

    async def revoke_family(self, family_id: UUID) -> None:
        async with self.pool.connection() as conn:
            await self._revoke(conn, family_id)

    async def revoke_user(self, user_id: UUID) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE identity.refresh_tokens SET revoked_at = now()"
                               " WHERE user_id = %s AND revoked_at IS NULL", [user_id])

    async def family_active(self, family_id: UUID) -> bool:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT bool_or(revoked_at IS NULL) FROM identity.refresh_tokens"
                " WHERE family_id = %s", [family_id])).fetchone()
        return bool(row and row[0])

    @staticmethod
    async def _revoke(conn: AsyncConnection, family_id: UUID) -> None:
        await conn.execute("UPDATE identity.refresh_tokens SET revoked_at = now()"
                           " WHERE family_id = %s AND revoked_at IS NULL", [family_id])

    async def _insert(self, conn: AsyncConnection, token: str, family_id: UUID,
                      user_id: UUID) -> None:
        await conn.execute(
            "INSERT INTO identity.refresh_tokens (token_hash, family_id, user_id, expires_at)"
            " VALUES (%s, %s, %s, %s)",
            [token_hash(token), family_id, user_id, datetime.now(UTC) + self.ttl])
