"""The command API: FastAPI over the command bus. Writes only; reads go to the query API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from commands.api import contract, errors
from commands.api.routes import (
    assets,
    courses,
    enrollments,
    notifications,
    privacy,
    quizzes,
    users,
    workflows,
)
from identity.adapters.write_side import AggregateAccounts, EmailClaims
from identity.http import hygiene
from identity.http import routes as auth_routes
from identity.http.docs import origin_of
from smartcourse.bootstrap import (
    identity_for_writes,
    link_secret,
    open_keyring,
    open_write_side,
    throttle,
)
from smartcourse.observability import api as observed
from smartcourse.observability.health import Readiness, check_async
from smartcourse.runtime import tune_garbage_collector
from smartcourse.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    keyring = open_keyring(settings)  # refuses development keys outside dev, before serving
    links = link_secret(settings)  # the same for the unsubscribe links' key

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        write_side = await open_write_side(settings)
        tune_garbage_collector(settings.gc_thresholds)
        app.state.bus, app.state.redis = write_side.bus, write_side.redis
        app.state.pool, app.state.modes = write_side.pool, write_side.modes
        write_side.store.faults = app.state.faults
        app.state.identity = identity_for_writes(
            settings, keyring, write_side.pool, AggregateAccounts(write_side.bus),
            EmailClaims(write_side.bus))
        app.state.throttle = throttle(settings)
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
    app.state.link_secret = links
    errors.install(app)
    # The query API's /docs "Authorize" posts here from the query API's origin.
    hygiene.install(app, [*settings.cors_origins, origin_of(settings.public_query_url)],
                    settings.max_request_bytes, assets.body_limits(settings))
    contract.install(app)
    app.include_router(auth_routes.router)
    if settings.is_dev:
        app.include_router(auth_routes.dev_router)
    app.include_router(users.router)
    app.include_router(courses.router)
    app.include_router(assets.router)
    app.include_router(enrollments.router)
    app.include_router(quizzes.router)
    app.include_router(notifications.router)
    app.include_router(privacy.router)
    app.include_router(workflows.router)

    async def readiness(request: Request) -> Readiness:
        state = request.app.state

        async def postgres() -> None:
            async with state.pool.connection() as conn:
                await conn.execute("SELECT 1")

        return await check_async({"postgres": postgres, "redis": state.redis.ping},
                                 state.modes)

    observed.install(app, "command", readiness, settings)
    return app
