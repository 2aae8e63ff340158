"""What both HTTP APIs expose to operators, installed the same way on each: `/metrics`,
`/health/live`, `/health/ready` (and `/health`, the same as ready), and the middleware that
measures and logs every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel, Field

from smartcourse.observability.chaos import FaultInjector
from smartcourse.observability.health import Readiness
from smartcourse.observability.http import ObservedRequests
from smartcourse.observability.tracing import configure_tracing
from smartcourse.settings import Settings


class CheckOut(BaseModel):
    ok: bool
    detail: str = ""


class ReadinessOut(BaseModel):
    status: Literal["ok", "degraded", "failing"] = Field(
        description="ok; degraded: runs, but in a fallback mode named in `degraded`; "
        "failing: a dependency in `checks` is down")
    checks: dict[str, CheckOut] = Field(default_factory=dict)
    degraded: dict[str, str] = Field(default_factory=dict)


class LiveOut(BaseModel):
    status: Literal["ok"] = "ok"


NOT_READY = {503: {"model": ReadinessOut,
                   "description": "Not ready: a dependency is down or the process runs "
                   "degraded (the body says which)"}}


def install(app: FastAPI, api: str, readiness: Callable[[Request], Awaitable[Readiness]],
            settings: Settings) -> None:
    if configure_tracing(settings, f"{api}-api"):
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # One server span per request (not one per ASGI send/receive); probes untraced.
        FastAPIInstrumentor.instrument_app(app, excluded_urls="metrics,health",
                                           exclude_spans=["receive", "send"])
    app.add_middleware(ObservedRequests, api=api)
    app.state.faults = FaultInjector(settings.chaos_enabled)
    if settings.chaos_enabled:
        from smartcourse.observability.chaos_api import router

        app.include_router(router(app.state.faults))

    @app.get("/metrics", tags=["operations"], response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                              "description": "Prometheus text format"}})
    def metrics() -> Response:
        """This process's Prometheus metrics (RED per endpoint, and the process's own)."""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health/live", tags=["operations"])
    async def live() -> LiveOut:
        """The process answers (restart it if not)."""
        return LiveOut()

    async def ready(request: Request) -> ReadinessOut | JSONResponse:
        """Ready when every dependency answers and the process runs in no degraded mode."""
        report = await readiness(request)
        if report.ready:
            return ReadinessOut.model_validate(report.as_json())
        return JSONResponse(report.as_json(), status_code=503)

    for path in ("/health/ready", "/health"):
        app.add_api_route(path, ready, methods=["GET"], tags=["operations"],
                          response_model=ReadinessOut, responses=NOT_READY,
                          summary="Readiness" if path != "/health" else "Readiness (alias)")
