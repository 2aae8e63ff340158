"""What the command API's OpenAPI says beyond the bodies: the error envelope as a schema, the
statuses every write can answer, and the headers a write reads and answers.

FastAPI documents a 422 as its own `{"detail": ...}` and knows nothing of the refusals our
error handlers answer; `install` rewrites the generated document once so that it says what
the API does (a test compares it with what schemathesis observes).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="stable and machine-readable, e.g. course.not_found")
    message: str


class ErrorBody(BaseModel):
    """Every refusal: `{"error": {"code", "message", ...details}}`."""

    error: ErrorDetail


_MEANING = {
    401: "no valid bearer token",
    403: "the caller's role or ownership does not allow this command",
    404: "a course, module, lesson, quiz or enrollment it names does not exist",
    409: "the command contradicts the current state (duplicate, seat cap, archived course, "
         "id used by another kind of record), or a request with the same Idempotency-Key is "
         "still running",
    422: "invalid input, a broken business rule, or an Idempotency-Key reused for another "
         "request",
}

_BODY = {  # what a request with a body may also be answered
    400: "the body is not JSON (http.error)",
    413: "the body is larger than the API accepts (request.too_large)",
}

WRITTEN_HEADERS = {
    "X-Correlation-ID": {"description": "the correlation id the command's events carry",
                         "schema": {"type": "string", "format": "uuid"}},
    "X-Consistency-Token": {"description": "the write's position, for read-your-writes",
                            "schema": {"type": "integer"}},
}

WRITE_HEADERS = [
    {"name": "Idempotency-Key", "in": "header", "required": False,
     "description": "Send the same key to retry safely: the first response is replayed and "
                    "nothing is appended twice (scoped to the user; another body with the "
                    "same key is a 422, a repeat while the first runs a 409).",
     "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
    {"name": "X-Correlation-ID", "in": "header", "required": False,
     "description": "A UUID carried by every event of the command (one is made if absent).",
     "schema": {"type": "string", "format": "uuid"}},
]
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """The generated document, made truthful (in place; returned for convenience)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorBody"] = error_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                if status.startswith("4"):
                    responses[status] = _error(response.get("description")
                                               or _MEANING.get(int(status), "refused"))
            responses.setdefault("422", _error(_MEANING[422]))
            if "requestBody" in operation:
                for status, meaning in _BODY.items():
                    responses.setdefault(str(status), _error(meaning))
            if "security" not in operation:
                continue  # the token endpoint and health: no write headers
            for status, meaning in _MEANING.items():
                responses.setdefault(str(status), _error(meaning))
            for status, response in responses.items():
                if status.startswith("2"):
                    response.setdefault("headers", {}).update(WRITTEN_HEADERS)
            names = {p["name"] for p in operation.get("parameters", [])}
            if operation.get("x-idempotency") == "asset_id":
                names.add("Idempotency-Key")  # uploads retry by asset id (422 on the key)
            operation.setdefault("parameters", []).extend(
                h for h in WRITE_HEADERS if h["name"] not in names)
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
