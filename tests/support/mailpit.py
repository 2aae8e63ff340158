"""Mailpit's REST API as tests read it: the messages sent to an address, bounded waits."""

from __future__ import annotations

import time
from typing import Any

import httpx


class Mailbox:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def to(self, address: str) -> list[dict[str, Any]]:
        reply = self.http.get("/api/v1/search", params={"query": f'to:"{address}"',
                                                         "limit": 100})
        reply.raise_for_status()
        return reply.json()["messages"]

    def wait_for(self, address: str, count: int = 1, timeout: float = 120) -> list[dict[str, Any]]:
        """Until `count` messages reached `address` (bounded poll of an asynchronous sender)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.to(address)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.3)  # polling the asynchronous sender, bounded by the deadline

    def message(self, message_id: str) -> dict[str, Any]:
        reply = self.http.get(f"/api/v1/message/{message_id}")
        reply.raise_for_status()
        return reply.json()
