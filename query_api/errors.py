"""Read-side errors and their HTTP mapping, in the command API's body shape.

The body shape, 401/403/404/422 and request validation come from `identity.http.errors`
(installed as is); this module adds what only reads can meet: a consistency token the
projections have not reached in time, and read models (PostgreSQL or ClickHouse) that are
missing, too slow or down.
"""

from __future__ import annotations

import logging
import math

import psycopg
from clickhouse_connect.driver import exceptions as clickhouse
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from commands.domain.errors import SmartCourseError
from identity.http import errors as shared
from identity.http.errors import error_body

log = logging.getLogger("smartcourse.query_api")


class NotCaughtUp(SmartCourseError):
    """The projections a read needs are still behind the client's consistency token."""

    code = "read_model.not_caught_up"

    def __init__(self, token: int, positions: dict[str, int], retry_after: float) -> None:
        super().__init__(
            f"the read models have not reached position {token} yet; retry shortly",
            token=token, positions=positions,
        )
        self.retry_after = retry_after


def install(app: FastAPI) -> None:
    shared.install(app)

    @app.exception_handler(NotCaughtUp)
    async def not_caught_up(_: Request, error: NotCaughtUp) -> JSONResponse:
        return JSONResponse(
            error_body(error.code, error.message, **error.details), status_code=503,
            headers={"Retry-After": str(max(1, math.ceil(error.retry_after)))},
        )

    @app.exception_handler(psycopg.errors.InvalidSchemaName)  # no read model built at all
    @app.exception_handler(psycopg.errors.UndefinedTable)
    async def missing_read_model(_: Request, error: psycopg.Error) -> JSONResponse:
        log.error("a read model is missing: %s", error)
        return _unavailable("read_model.unavailable", "a read model is not built yet")

    @app.exception_handler(psycopg.errors.QueryCanceled)
    async def too_slow(_: Request, error: psycopg.Error) -> JSONResponse:
        log.error("a read was cancelled: %s", error)
        return _unavailable("read_model.timeout", "the read took too long; retry shortly")

    @app.exception_handler(psycopg.OperationalError)  # PoolTimeout included
    async def database_down(_: Request, error: Exception) -> JSONResponse:
        log.error("the read database does not answer: %s", error)
        return _unavailable("database.unavailable", "the read database does not answer")

    @app.exception_handler(clickhouse.OperationalError)  # ClickHouse down or unreachable
    async def analytics_down(_: Request, error: Exception) -> JSONResponse:
        log.error("the analytics store does not answer: %s", error)
        return _unavailable("analytics.unavailable", "the analytics store does not answer")

    @app.exception_handler(clickhouse.DatabaseError)
    async def analytics_error(request: Request, error: clickhouse.DatabaseError) -> JSONResponse:
        if error.code in _NOT_BUILT:  # the analytics worker has not created its tables yet
            log.error("the analytics tables are missing: %s", error)
            return _unavailable("analytics.unavailable", "the analytics tables are not built yet")
        return shared.unexpected_error(request, error)


# UNKNOWN_TABLE, UNKNOWN_DATABASE: the analytics projection has not run (or is being rebuilt).
_NOT_BUILT = {60, 81}


def _unavailable(code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=503, headers={"Retry-After": "1"})
