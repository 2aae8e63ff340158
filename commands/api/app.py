"""The command API: FastAPI over the command bus. Writes only; reads go to the query API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import make_asgi_app

from commands.api import errors
from commands.api.limits import RequestSizeLimit
from commands.api.routes import courses, enrollments, notifications, privacy, users
from smartcourse.bootstrap import open_write_side
from smartcourse.runtime import tune_garbage_collector
from smartcourse.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        write_side = await open_write_side(settings)
        tune_garbage_collector(settings.gc_thresholds)
        app.state.bus, app.state.redis = write_side.bus, write_side.redis
        app.state.pool = write_side.pool
        try:
            yield
        finally:
            await write_side.close()

    app = FastAPI(
        title="SmartCourse command API",
        version="1",
        description="Commands of the SmartCourse learning platform. Every write answers with "
        "`position`, a consistency token for the query API, and a `correlation_id`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes)
    app.include_router(users.router)
    app.include_router(courses.router)
    app.include_router(enrollments.router)
    app.include_router(notifications.router)
    app.include_router(privacy.router)

    app.mount("/metrics", make_asgi_app())

    @app.get("/health", tags=["operations"])
    async def health(request: Request) -> dict[str, str]:
        """Ready when PostgreSQL and Redis answer."""
        async with request.app.state.pool.connection() as conn:
            await conn.execute("SELECT 1")
        await request.app.state.redis.ping()
        return {"status": "ok"}

    return app
