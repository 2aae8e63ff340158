"""Rate limits in Redis (the `limits` library, moving windows): per client IP and per
account on the token endpoints (brute force, credential stuffing), per user on writes.
Every process of an API shares the counters. A limit of "" is off."""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from identity.errors import TooManyRequests


class Throttle:
    def __init__(self, redis_url: str, login_per_ip: str, login_per_account: str,
                 write_per_user: str, namespace: str = "smartcourse") -> None:
        storage = storage_from_string(f"async+{redis_url}", implementation="redispy",
                                      key_prefix=f"{namespace}:limits")
        self.limiter = MovingWindowRateLimiter(storage)
        self.per_ip = parse(login_per_ip) if login_per_ip else None
        self.per_account = parse(login_per_account) if login_per_account else None
        self.per_user = parse(write_per_user) if write_per_user else None

    async def login(self, ip: str, account: str | None) -> None:
        """One attempt at a token endpoint from `ip` for `account` (an email, if any)."""
        await self._hit(self.per_ip, "login-ip", ip, "too many attempts from this address",
                        "auth.too_many_attempts")
        if account:
            await self._hit(self.per_account, "login-account", account,
                            "too many attempts for this account", "auth.too_many_attempts")

    async def write(self, user_id: object) -> None:
        await self._hit(self.per_user, "write-user", str(user_id),
                        "too many writes; slow down", "rate_limited.writes")

    async def _hit(self, item: RateLimitItem | None, scope: str, key: str, message: str,
                   code: str) -> None:
        if item is None or await self.limiter.hit(item, scope, key):
            return
        stats = await self.limiter.get_window_stats(item, scope, key)
        raise TooManyRequests(message, retry_after=max(1.0, stats.reset_time - time.time()),
                              code=code)
