"""Redis from Debian's package: idempotency keys, rate limits, caches."""

from __future__ import annotations

import redis

from infra.service import Service
from infra.system_packages import ensure_installed


class Redis(Service):
    name = "redis"

    def ports(self) -> dict[str, int]:
        return {"resp": self.settings.redis_port}

    def install(self) -> None:
        ensure_installed("redis-server", "redis-server")

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--bind", self.settings.host,
            "--port", str(self.settings.redis_port),
            "--dir", str(self.data),
            "--daemonize", "no",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
        ]

    def healthy(self) -> bool:
        client = redis.Redis(host=self.settings.host, port=self.settings.redis_port,
                             socket_timeout=2)
        try:
            return client.ping() is True
        finally:
            client.close()
