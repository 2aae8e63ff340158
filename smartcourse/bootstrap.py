"""The composition root: the only place that builds adapters from settings."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from commands.adapters.avro_contracts import EventEncoder
from commands.adapters.event_store import EventStore, ensure_schema
from commands.adapters.store_follower import StoreFollower
from commands.bus import CommandBus
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
    encoder = EventEncoder(SchemaRegistryClient({"url": settings.registry_url, "timeout": 5}))
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


async def open_write_side(settings: Settings) -> WriteSide:
    pool = AsyncConnectionPool(settings.pg_dsn, min_size=2, max_size=settings.pg_pool_size,
                               open=False, kwargs={"autocommit": True})
    await pool.open(wait=True, timeout=30)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        await ensure_schema(conn)
        await data_keys.ensure_schema(conn)
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
