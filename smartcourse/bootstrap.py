"""The composition root: the only place that builds adapters from settings."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from confluent_kafka.schema_registry.error import SchemaRegistryError
from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from commands.adapters.avro_contracts import EventEncoder, registry_client
from commands.adapters.event_store import EventStore, ensure_schema
from commands.adapters.store_follower import StoreFollower
from commands.bus import CommandBus
from identity.adapters import keys as identity_keys
from identity.adapters import stores as identity_stores
from identity.adapters.throttle import Throttle
from identity.passwords import HashParameters, Passwords
from identity.service import AccountDirectory, EmailDirectory, Identity
from identity.tokens import TokenIssuer
from privacy import keys as data_keys
from privacy.sealing import PersonalData
from smartcourse.observability.health import DegradedModes
from smartcourse.settings import Settings

log = logging.getLogger("smartcourse.commands")

SCHEMA_LOCK = 7_201_000  # several processes may start at once; one creates the schema
UNENCODED_APPENDS = "unencoded_appends"
REGISTRY_FAILURES = Counter("smartcourse_registry_failures_total",
                            "Schema registry calls that failed", ["operation"])


@dataclass
class WriteSide:
    pool: AsyncConnectionPool
    store: EventStore
    bus: CommandBus
    redis: aioredis.Redis
    follower: StoreFollower
    modes: DegradedModes = field(default_factory=DegradedModes)
    registering: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self.registering is not None:
            self.registering.cancel()
        await self.follower.stop()
        await self.store.close()
        await self.redis.aclose()
        await self.pool.close()


def register_contracts(settings: Settings, wait: float) -> EventEncoder:
    """Every contract registered (idempotent), trying again with backoff while the registry
    is not there yet, for up to `wait` seconds; then the last error is raised."""
    encoder = EventEncoder(registry_client(settings.registry_url))
    deadline = time.monotonic() + wait
    delay = 0.25
    while True:
        try:
            encoder.register_all()
            return encoder
        except Exception as error:  # noqa: BLE001 - its transport errors vary; re-raised below
            REGISTRY_FAILURES.labels("register").inc()
            if time.monotonic() + delay > deadline or _refused(error):
                raise
            log.warning("schema registry not ready; trying again",
                        extra={"reason": str(error), "retry_in": delay})
        time.sleep(delay)  # bounded by the deadline above
        delay = min(delay * 2, 5.0)


def _refused(error: BaseException) -> bool:
    """An answer that waiting will not change: a contract the registry refuses."""
    return isinstance(error, SchemaRegistryError) and error.http_status_code == 409


def append_encoder(settings: Settings, modes: DegradedModes) -> EventEncoder | None:
    """The contracts' encoder, so the store appends events already in their published form
    (the relay then only reads and produces). Without the registry, after waiting for it,
    the store appends them plain and the relay encodes them, and the process says so: an
    ERROR line, `smartcourse_degraded{reason="unencoded_appends"}` and readiness "degraded"
    until `keep_registering` gets through."""
    try:
        return register_contracts(settings, settings.registry_start_wait)
    except Exception as error:  # noqa: BLE001 - any registry failure: degraded, and said so
        modes.enter(UNENCODED_APPENDS, "schema registry unavailable; events are appended "
                    f"unencoded: {error}")
        return None


async def keep_registering(store: EventStore, settings: Settings,
                           modes: DegradedModes) -> None:
    """While the store appends unencoded, try the registry again every interval; once the
    contracts are registered the store encodes again and the process is ready."""
    while store.encoder is None:
        await asyncio.sleep(settings.registry_retry_interval)
        try:
            store.encoder = await asyncio.to_thread(register_contracts, settings, 0)
        except Exception as error:  # noqa: BLE001 - still unavailable: stay degraded
            log.error("schema registry still unavailable; events are appended unencoded",
                      extra={"reason": str(error)})
            continue
        modes.leave(UNENCODED_APPENDS)


async def ensure_store_schema(pool: AsyncConnectionPool) -> None:
    """The event store's, the accounts' and the data keys' tables (idempotent, one process
    at a time): the write side's, and the query API's, which reads the relay's tables."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        await ensure_schema(conn)
        await identity_stores.ensure_schema(conn)
        await data_keys.ensure_schema(conn)


async def open_write_side(settings: Settings) -> WriteSide:
    pool = AsyncConnectionPool(settings.pg_dsn, min_size=2, max_size=settings.pg_pool_size,
                               open=False, kwargs={"autocommit": True})
    await pool.open(wait=True, timeout=30)
    await ensure_store_schema(pool)
    modes = DegradedModes()
    store = EventStore(pool, await asyncio.to_thread(append_encoder, settings, modes),
                       max_event_bytes=settings.max_event_bytes)
    bus = CommandBus(store, personal=PersonalData(data_keys.PostgresKeys(pool)))
    follower = StoreFollower(settings.pg_dsn, bus.cache.saw)  # other processes' appends
    await follower.start()
    side = WriteSide(pool=pool, store=store, bus=bus,
                     redis=aioredis.Redis.from_url(settings.redis_url), follower=follower,
                     modes=modes)
    if store.encoder is None:
        side.registering = asyncio.create_task(keep_registering(store, settings, modes))
    return side


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
