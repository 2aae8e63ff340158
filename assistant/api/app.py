"""The assistant API (`smartcourse assistant-api`): questions about courses, answered from
the projections and recorded as ai.* events through the write side (docs/adr/0020)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from assistant.api import enhancements, errors, questions
from assistant.service import Assistant
from identity.http import docs, hygiene
from smartcourse.bootstrap import identity_for_reads, open_keyring
from smartcourse.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    keyring = open_keyring(settings)  # refuses development keys outside dev, before serving

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.assistant = await Assistant.open(settings)
        # the registry decides who a token's user is (identity.accounts, on the read pool)
        app.state.identity = identity_for_reads(settings, keyring, app.state.assistant.reads)
        await app.state.assistant.embedder.embed_query("warm up")  # loads the model now
        try:
            yield
        finally:
            await app.state.assistant.close()

    app = FastAPI(title="SmartCourse assistant API", version="1", lifespan=lifespan,
                  description="Grounded answers to questions about a course, with citations, "
                  "streamed as server-sent events; study material (summaries, objectives, "
                  "quizzes) generated from a lesson for its instructor.")
    app.state.settings = settings
    errors.install(app)
    hygiene.install(app, settings.cors_origins, settings.max_request_bytes)  # as both APIs
    app.include_router(questions.router)
    app.include_router(enhancements.router)
    app.mount("/metrics", make_asgi_app())
    docs.point_authorize_at(app, settings.public_command_url)  # tokens come from there

    @app.get("/health", tags=["operations"])
    async def health(request: Request) -> JSONResponse:
        """Ready when PostgreSQL, Redis and Weaviate answer."""
        assistant: Assistant = request.app.state.assistant
        async with assistant.reads.connection() as conn:
            await conn.execute("SELECT 1")
        await assistant.write.redis.ping()
        if not await assistant.index.client.is_ready():
            return JSONResponse({"status": "weaviate not ready"}, status_code=503)
        return JSONResponse({"status": "ok", "providers": [
            {"name": p.name, "breaker": assistant.chain.breaker(p.name).state}
            for p in assistant.chain.providers]})

    return app
