"""A command bus on its own event-loop thread, so a synchronous test can append events
while it waits for a relay or worker process."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from commands.bus import CommandBus
from smartcourse.bootstrap import WriteSide, open_write_side
from smartcourse.settings import Settings

T = TypeVar("T")


class Writer:
    def __init__(self, settings: Settings, deadline: float = 120.0) -> None:
        self.deadline = deadline
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.side: WriteSide = self.run(open_write_side(settings))

    @property
    def bus(self) -> CommandBus:
        return self.side.bus

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.submit(coroutine).result(self.deadline)

    def head(self) -> int:
        return self.run(self.side.store.head())

    def close(self) -> None:
        self.run(self.side.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(self.deadline)
