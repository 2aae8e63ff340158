"""Every HTTP request of both APIs observed in one place: RED metrics per endpoint (rate,
errors, duration, labelled by the route's template, never by the raw path) and one access
log line with status, latency, correlation and trace ids.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, which costs a task per request):
the command API serves thousands of commands a second.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import Counter, Histogram

from smartcourse.observability.logs import CORRELATION_ID

access_log = logging.getLogger("smartcourse.access")

REQUESTS = Counter("smartcourse_http_requests_total",
                   "HTTP requests answered, by API, method, route template and status",
                   ["api", "method", "route", "status"])
DURATION = Histogram("smartcourse_http_request_duration_seconds",
                     "From the request's arrival to the end of its answer",
                     ["api", "method", "route"],
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5,
                              1.0, 2.0, 5.0))
UNMATCHED = "<unmatched>"  # a path no route knows: one label, whatever was asked
QUIET_PATHS = ("/metrics",)  # Prometheus scrapes: counted, logged at debug only


def route_of(scope: dict[str, Any]) -> str:
    """The template of the route that answered (`/courses/{course_id}`), bounded cardinality."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        root = scope.get("root_path", "")
        for quiet in QUIET_PATHS:  # mounted apps (metrics) have no route object
            if scope.get("path", "").startswith(root + quiet):
                return quiet
        return UNMATCHED
    return path


def level_of(status: int) -> int:
    """Server errors at ERROR, client errors at WARNING, the rest at INFO."""
    if status >= 500:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    return logging.INFO


def correlation_of(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-correlation-id":
            return value.decode("latin-1")[:128]
    return None


class ObservedRequests:
    """ASGI middleware: counts, times and logs every HTTP request of `api`."""

    def __init__(self, app: Any, api: str) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the answer started is a server error
        correlation_id = correlation_of(scope)
        token = CORRELATION_ID.set(correlation_id)

        async def observed_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            method = scope.get("method", "")
            REQUESTS.labels(self.api, method, route, str(status)).inc()
            DURATION.labels(self.api, method, route).observe(seconds)
            level = logging.DEBUG if route in QUIET_PATHS else level_of(status)
            if access_log.isEnabledFor(level):
                access_log.log(level, f"{method} {scope.get('path', '')} {status}", extra={
                    "api": self.api, "method": method, "path": scope.get("path", ""),
                    "route": route, "status": status, "correlation_id": correlation_id,
                    "duration_ms": round(seconds * 1000, 3)})
            CORRELATION_ID.reset(token)
