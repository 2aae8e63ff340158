"""Redis: the response cache (course content version + normalised question) and per-user
daily question budgets."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from redis.asyncio import Redis

from assistant.domain.text import normalise_question
from commands.domain.errors import SmartCourseError

DAY = 86_400


class BudgetExhausted(SmartCourseError):
    code = "ai.budget_exhausted"


def cache_key(course_id: UUID, content_version: int, module: str, question: str) -> str:
    digest = hashlib.sha256(normalise_question(question).encode()).hexdigest()[:32]
    return f"assistant:answer:{course_id}:{content_version}:{module}:{digest}"


class ResponseCache:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self.redis.get(key)
        return json.loads(raw) if raw else None

    async def put(self, key: str, value: dict[str, Any]) -> None:
        if self.ttl > 0:
            await self.redis.set(key, json.dumps(value), ex=self.ttl)


class DailyBudget:
    """At most `limit` questions per user and UTC day (0: no limit)."""

    def __init__(self, redis: Redis, limit: int) -> None:
        self.redis = redis
        self.limit = limit

    async def spend(self, user_id: UUID, now: datetime | None = None) -> int:
        if self.limit <= 0:
            return 0
        day = (now or datetime.now(UTC)).strftime("%Y%m%d")
        key = f"assistant:budget:{user_id}:{day}"
        used = await self.redis.incr(key)
        if used == 1:
            await self.redis.expire(key, 2 * DAY)
        if used > self.limit:
            raise BudgetExhausted(f"the daily limit of {self.limit} questions is reached; "
                                  "try again tomorrow", limit=self.limit)
        return used
