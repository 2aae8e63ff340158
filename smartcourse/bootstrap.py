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
from privacy import keys as data_keys
from privacy.sealing import PersonalData
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
        await data_keys.ensure_schema(conn)
    store = EventStore(pool, await asyncio.to_thread(append_encoder, settings),
                       max_event_bytes=settings.max_event_bytes)
    bus = CommandBus(store, personal=PersonalData(data_keys.PostgresKeys(pool)))
    follower = StoreFollower(settings.pg_dsn, bus.cache.saw)  # other processes' appends
    await follower.start()
    return WriteSide(pool=pool, store=store, bus=bus,
                     redis=aioredis.Redis.from_url(settings.redis_url), follower=follower)
