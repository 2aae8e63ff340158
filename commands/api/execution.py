"""Runs one command for one HTTP request: correlation id, Idempotency-Key, response shape.

Idempotency (Redis): the first request with a key claims it (SET NX) and stores its response
when done; a repeat with the same key and body gets that stored response and appends
nothing; the same key with another body is refused with 422; a repeat while the first is
still running gets 409. A key is scoped to its user. Failures other than the domain's own
(a database outage, say) release the key so that the client may retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram

from commands.api.errors import IdempotencyInProgress, IdempotencyKeyReused
from commands.domain.errors import RuleViolated, SmartCourseError
from commands.unit_of_work import CommandResult
from identity.actor import Actor
from identity.http.correlation import correlation_id_of
from identity.http.deps import CurrentActor
from identity.http.errors import error_body, status_of

MAX_KEY_LENGTH = 255

COMMANDS = Counter("smartcourse_commands_total", "Commands handled, by outcome: ok, unchanged "
                   "(a no-op such as a repeated enroll) or the error code", ["command", "outcome"])
COMMAND_SECONDS = Histogram(
    "smartcourse_command_seconds", "From dispatch to commit (or refusal) of a command",
    ["command"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))


class CommandRunner:
    def __init__(self, request: Request, actor: Actor) -> None:
        self.request = request
        self.actor = actor
        state = request.app.state
        self.bus, self.redis, self.settings = state.bus, state.redis, state.settings

    def correlation_id(self) -> UUID:
        return correlation_id_of(self.request.headers.get("X-Correlation-ID"))

    async def run(
        self, command: Any, respond: Callable[[CommandResult], dict[str, Any]],
        status_code: int = 200, status_when_unchanged: int | None = None,
    ) -> JSONResponse:
        correlation_id = self.correlation_id()
        await self.request.app.state.throttle.write(self.actor.user_id)
        key = self.request.headers.get("Idempotency-Key")
        if key is None:
            result = await self._execute(command, correlation_id)
            return self._reply(result, respond, status_code, status_when_unchanged)
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            raise RuleViolated(f"Idempotency-Key must have 1 to {MAX_KEY_LENGTH} characters",
                               "idempotency.invalid_key")
        return await self._run_once(key, command, respond, status_code, status_when_unchanged,
                                    correlation_id)

    async def _run_once(
        self, key: str, command: Any, respond: Callable[[CommandResult], dict[str, Any]],
        status_code: int, status_when_unchanged: int | None, correlation_id: UUID,
    ) -> JSONResponse:
        body = await self.request.body()
        fingerprint = hashlib.sha256(
            b"\0".join([self.request.method.encode(), self.request.url.path.encode(), body])
        ).hexdigest()
        redis_key = f"idempotency:{self.actor.user_id}:{key}"
        ttl = self.settings.idempotency_ttl_seconds
        claim = json.dumps({"fingerprint": fingerprint, "state": "running"})
        if not await self.redis.set(redis_key, claim, nx=True, ex=ttl):
            return await self._replay(redis_key, fingerprint)
        try:
            result = await self._execute(command, correlation_id)
        except SmartCourseError as error:
            reply = JSONResponse(error_body(error.code, error.message, **error.details),
                                 status_code=status_of(error))
            await self._remember(redis_key, fingerprint, reply, ttl)
            return reply
        except BaseException:
            await self.redis.delete(redis_key)
            raise
        reply = self._reply(result, respond, status_code, status_when_unchanged)
        await self._remember(redis_key, fingerprint, reply, ttl)
        return reply

    async def _execute(self, command: Any, correlation_id: UUID) -> CommandResult:
        name = type(command).__name__
        with COMMAND_SECONDS.labels(name).time():
            try:
                result = await self.bus.execute(command, self.actor,
                                                correlation_id=correlation_id)
            except SmartCourseError as error:
                COMMANDS.labels(name, error.code).inc()
                raise
        COMMANDS.labels(name, "ok" if result.changed else "unchanged").inc()
        return result

    async def _replay(self, redis_key: str, fingerprint: str) -> JSONResponse:
        stored = json.loads(await self.redis.get(redis_key) or "{}")
        if stored.get("fingerprint") != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request")
        if stored.get("state") != "done":
            raise IdempotencyInProgress("a request with this Idempotency-Key is still running")
        return JSONResponse(stored["body"], status_code=stored["status"],
                            headers={**stored["headers"], "Idempotent-Replayed": "true"})

    async def _remember(self, redis_key: str, fingerprint: str, reply: JSONResponse,
                        ttl: int) -> None:
        kept = {k: v for k, v in reply.headers.items()
                if k.lower() in ("x-correlation-id", "x-consistency-token")}
        record = {"fingerprint": fingerprint, "state": "done", "status": reply.status_code,
                  "body": json.loads(reply.body), "headers": kept}
        await self.redis.set(redis_key, json.dumps(record), ex=ttl)

    def _reply(self, result: CommandResult, respond: Callable[[CommandResult], dict[str, Any]],
               status_code: int, status_when_unchanged: int | None) -> JSONResponse:
        body = {**respond(result), "position": result.position,
                "correlation_id": str(result.correlation_id)}
        status = status_when_unchanged if (not result.changed and status_when_unchanged) \
            else status_code
        given = self.request.headers.get("X-Correlation-ID")  # echoed as the client sent it
        return JSONResponse(body, status_code=status, headers={
            "X-Correlation-ID": given or str(result.correlation_id),
            "X-Consistency-Token": str(result.position),
        })


async def command_runner(request: Request, actor: CurrentActor) -> CommandRunner:
    return CommandRunner(request, actor)


Commands = Annotated[CommandRunner, Depends(command_runner)]
