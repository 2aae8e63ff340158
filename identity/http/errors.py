"""The one place where errors become HTTP responses: {"error": {"code", "message", ...}}.

Both APIs install it; each adds only the errors of its own side (idempotency on writes,
read models not caught up on reads).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from commands.domain.errors import Conflict, Forbidden, NotFound, RuleViolated, SmartCourseError
from identity.errors import OAuthError, TooManyRequests, Unauthorized

log = logging.getLogger("smartcourse.api")

STATUS: dict[type[SmartCourseError], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RuleViolated: 422,
    TooManyRequests: 429,
}


def register_status(error: type[SmartCourseError], status: int) -> None:
    """An API's own error class and its status (e.g. idempotency key reuse: 422)."""
    STATUS[error] = status


def status_of(error: SmartCourseError) -> int:
    if isinstance(error, OAuthError):
        return error.status
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **jsonable_encoder(details)}}


def error_response(error: SmartCourseError) -> JSONResponse:
    headers: dict[str, str] = {}
    body = error_body(error.code, error.message, **error.details)
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if isinstance(error, OAuthError):  # RFC 6749 §5.2 fields beside the envelope
        body = {**body, "error_description": error.message}
        body["error"]["oauth_error"] = error.oauth_error
        headers["Cache-Control"] = "no-store"
    return JSONResponse(body, status_code=status_of(error), headers=headers or None)


# Failures of a dependency, not of the request (tests/chaos checks none becomes a 500).
def _outages() -> tuple[type[BaseException], ...]:
    import psycopg
    import psycopg_pool
    import redis.exceptions

    return (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout,
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError,
            TimeoutError)


OUTAGES = _outages()


def unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """An outage of a dependency is a 503 to retry; anything else a logged 500."""
    correlation_id = request.headers.get("X-Correlation-ID")
    if isinstance(error, OUTAGES):
        # PostgreSQL or Redis unreachable (a restart, a network fault): nothing was
        # answered as done, so a retry is safe; 503 with Retry-After, never 500.
        log.warning("dependency unavailable", extra={"path": request.url.path,
                                                    "reason": str(error)[:300],
                                                    "correlation_id": correlation_id})
        return JSONResponse(error_body("service.unavailable", "a service the request "
                                       "needs is unavailable; retry shortly",
                                       correlation_id=correlation_id),
                            status_code=503, headers={"Retry-After": "1"})
    log.exception("unexpected error", extra={"path": request.url.path,
                                             "correlation_id": correlation_id})
    return JSONResponse(error_body("internal", "an unexpected error occurred; it was "
                                   "logged", correlation_id=correlation_id),
                        status_code=500)


def install(app: FastAPI) -> None:
    @app.exception_handler(SmartCourseError)
    async def domain_error(_: Request, error: SmartCourseError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": list(e.get("loc", ())), "message": e.get("msg", ""),
             "type": e.get("type", "")}
            for e in error.errors()
        ]
        return JSONResponse(
            error_body("request.invalid", "the request is not valid", problems=problems),
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        return unexpected_error(request, error)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        code = {404: "route.not_found", 405: "route.method_not_allowed"}.get(
            error.status_code, "http.error")
        return JSONResponse(error_body(code, str(error.detail)),
                            status_code=error.status_code, headers=error.headers)
