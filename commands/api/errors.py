"""The command API's own errors; the envelope and the common statuses come from
`identity.http.errors`, which both APIs install."""

from __future__ import annotations

from fastapi import FastAPI

from commands.domain.errors import Conflict, SmartCourseError
from identity.http import errors as shared


class IdempotencyKeyReused(SmartCourseError):
    code = "idempotency.key_reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency.in_progress"


shared.register_status(IdempotencyKeyReused, 422)


def install(app: FastAPI) -> None:
    shared.install(app)
