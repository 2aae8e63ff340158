"""The query API: FastAPI over the read models. Reads projections only, never the event
store or aggregates; every answer says which position it reflects (X-Read-Position)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from prometheus_client import REGISTRY

from identity.http import docs, hygiene
from operations.platform_metrics import PlatformCollector
from projections.content.search import close_searches
from projections.positions import POSITIONS_CHANNEL
from query_api import errors
from query_api.consistency import PositionWatcher
from query_api.db import create_pool
from query_api.routes import (
    analytics,
    assets,
    audit,
    certificates,
    content,
    courses,
    enhancements,
    enrollments,
    instructors,
    learning,
    operations,
    privacy,
)
from smartcourse.bootstrap import identity_for_reads, open_keyring
from smartcourse.observability import api as observed
from smartcourse.observability.health import DegradedModes, Readiness, check_async
from smartcourse.runtime import tune_garbage_collector
from smartcourse.settings import Settings

DESCRIPTION = """Reads of the SmartCourse learning platform, served from the projections.

**Read-your-writes**: send a write's `position` as `X-Consistency-Token` (or
`?after_position=`); the answer waits (bounded) until the read models reflect it, or is a
503 `read_model.not_caught_up` with `Retry-After`. Never stale data silently.
Every read answers `X-Read-Position`: the position it reflects."""


POSITIONS_POLLED = "positions_polled"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    keyring = open_keyring(settings)  # refuses development keys outside dev, before serving

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(settings)
        await pool.open(wait=True, timeout=30)
        watcher = PositionWatcher(pool, settings.pg_dsn, POSITIONS_CHANNEL,
                                  settings.worker_topic_partitions,
                                  topic_prefix=settings.worker_topic_prefix)
        await watcher.start()
        app.state.pool, app.state.watcher = pool, watcher
        app.state.identity = identity_for_reads(settings, keyring, pool)
        # The progress snapshots (projections/progress_snapshot.py); no connection until used.
        app.state.redis = aioredis.Redis.from_url(settings.redis_url)
        platform = PlatformCollector(settings, (settings.worker_app_id,
                                                settings.analytics_worker_app_id,
                                                settings.workflow_worker_app_id))
        REGISTRY.register(platform)
        tune_garbage_collector(settings.gc_thresholds)
        try:
            yield
        finally:
            await app.state.redis.aclose()
            REGISTRY.unregister(platform)
            await close_searches()
            await watcher.stop()
            await pool.close()

    app = FastAPI(title="SmartCourse query API", version="1", description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings = settings
    errors.install(app)
    hygiene.install(app, settings.cors_origins, settings.max_request_bytes)
    for module in (courses, instructors, enrollments, learning, content, analytics,
                   operations, certificates, audit, privacy, assets, enhancements):
        app.include_router(module.router)
    modes = DegradedModes()

    async def readiness(request: Request) -> Readiness:
        state = request.app.state

        async def postgres() -> None:
            async with state.pool.connection() as conn:
                await conn.execute("SELECT 1")

        if state.watcher.listening:
            modes.leave(POSITIONS_POLLED)
        else:
            modes.enter(POSITIONS_POLLED, "the position listener lost its connection; "
                        "read-your-writes waits poll the database")
        return await check_async({"postgres": postgres}, modes)

    observed.install(app, "query", readiness, settings)
    docs.point_authorize_at(app, settings.public_command_url)  # tokens come from there
    return app
