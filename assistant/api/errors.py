"""The assistant API's errors: the platform's envelope `{"error": {"code", "message"}}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from assistant.adapters.limits import BudgetExhausted
from assistant.enhancements import GenerationFailed, UnusableOutput
from commands.domain.errors import Conflict, Forbidden, NotFound, RuleViolated, SmartCourseError

STATUS: dict[type[SmartCourseError], int] = {
    BudgetExhausted: 429, UnusableOutput: 502, GenerationFailed: 503, Forbidden: 403,
    NotFound: 404, Conflict: 409, RuleViolated: 422,
}


class Unauthorized(SmartCourseError):
    code = "auth.unauthorized"


def status_of(error: SmartCourseError) -> int:
    if isinstance(error, Unauthorized):
        return 401
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(SmartCourseError)
    async def domain_error(_: Request, error: SmartCourseError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
        return JSONResponse(body(error.code, error.message), status_code=status_of(error),
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(body("request.invalid", f"{where}: {first.get('msg', 'invalid')}"),
                            status_code=422)
