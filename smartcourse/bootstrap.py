"""The composition root: the only place that builds adapters from settings."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from confluent_kafka.schema_registry import SchemaRegistryClient
from psycopg_pool import AsyncConnectionPool

from commands.adapters.avro_contracts import EventEncoder
from commands.adapters.event_store import EventStore, ensure_schema
from commands.adapters.store_follower import StoreFollower
from commands.bus import CommandBus
from identity.adapters import keys as identity_keys
from identity.adapters import stores as identity_stores
from identity.adapters.throttle import Throttle
from identity.passwords import HashParameters, Passwords
from identity.service import AccountDirectory, EmailDirectory, Identity
from identity.tokens import TokenIssuer
from smartcourse.settings import Settings

log = logging.getLogger("smartcourse.commands")

SCHEMA_LOCK = 7_201_000  # several processes may start at once; one creates the schema


@dataclass
class WriteSide:
    pool: AsyncConnectionPool
    store: EventStore
    bus: CommandBus
    redis: aioredis.Redis
    follower: StoreFollower

    async def close(self) -> None:
        await self.follower.stop()
        await self.store.close()
        await self.redis.aclose()
        await self.pool.close()


def append_encoder(settings: Settings) -> EventEncoder | None:
    """The contracts' encoder, so the store appends events already in their published form
    (the relay then only reads and produces). Without the registry the store appends them
    plain and the relay encodes them: writes never wait for the registry."""
    encoder = EventEncoder(SchemaRegistryClient({"url": settings.registry_url, "timeout": 5}))
    try:
        encoder.register_all()
    except Exception as error:  # noqa: BLE001 - any registry failure: append plain, say so
        log.warning("schema registry unavailable; events are appended unencoded",
                    extra={"reason": str(error)})
        return None
    return encoder


async def open_write_side(settings: Settings) -> WriteSide:
    pool = AsyncConnectionPool(settings.pg_dsn, min_size=2, max_size=settings.pg_pool_size,
                               open=False, kwargs={"autocommit": True})
    await pool.open(wait=True, timeout=30)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        await ensure_schema(conn)
        await identity_stores.ensure_schema(conn)
    store = EventStore(pool, await asyncio.to_thread(append_encoder, settings),
                       max_event_bytes=settings.max_event_bytes)
    bus = CommandBus(store)
    follower = StoreFollower(settings.pg_dsn, bus.cache.saw)  # other processes' appends
    await follower.start()
    return WriteSide(pool=pool, store=store, bus=bus,
                     redis=aioredis.Redis.from_url(settings.redis_url), follower=follower)


# -- identity --------------------------------------------------------------------------------
def open_keyring(settings: Settings) -> identity_keys.Keyring:
    """The signing keys; raises UnsafeConfiguration outside dev without real keys."""
    return identity_keys.open_keyring(settings.jwt_keys_dir, settings.is_dev,
                                      settings.data_dir / "identity" / "keys")


def token_issuer(settings: Settings, keyring: identity_keys.Keyring) -> TokenIssuer:
    return TokenIssuer(keyring, settings.jwt_issuer, settings.jwt_audience,
                       settings.access_token_ttl_seconds)


def password_hasher(settings: Settings) -> Passwords:
    return Passwords(HashParameters(settings.argon2_time_cost, settings.argon2_memory_kib,
                                    settings.argon2_parallelism))


def throttle(settings: Settings) -> Throttle:
    return Throttle(settings.redis_url, settings.login_limit_per_ip,
                    settings.login_limit_per_account, settings.write_limit_per_user)


def identity_for_writes(settings: Settings, keyring: identity_keys.Keyring,
                        pool: AsyncConnectionPool, accounts: AccountDirectory,
                        emails: EmailDirectory) -> Identity:
    """The command API's identity: logins, refresh tokens, credentials."""
    return Identity(token_issuer(settings, keyring), accounts, password_hasher(settings),
                    identity_stores.Credentials(pool),
                    identity_stores.RefreshTokens(pool, settings.refresh_token_ttl_seconds),
                    emails)


def identity_for_reads(settings: Settings, keyring: identity_keys.Keyring,
                       pool: AsyncConnectionPool) -> Identity:
    """The query API's identity: verifies tokens, reads the account registry."""
    return Identity(token_issuer(settings, keyring), identity_stores.SqlAccounts(pool))


def link_secret(settings: Settings) -> str:
    """The key of signed links (unsubscribe). Outside dev it must be configured; in dev it
    is generated once into the data folder (never a default, never committed)."""
    import secrets

    from identity.errors import UnsafeConfiguration

    if settings.link_secret:
        return settings.link_secret
    if not settings.is_dev:
        raise UnsafeConfiguration("no link secret configured: set SMARTCOURSE_LINK_SECRET "
                                  "(or SMARTCOURSE_ENV=dev for local development)")
    path = settings.data_dir / "identity" / "link-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x") as out:
                out.write(secrets.token_urlsafe(32))
        except FileExistsError:
            pass  # another process wrote it first
    return path.read_text().strip()
