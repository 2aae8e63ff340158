"""The main loop's heartbeat, behind `/health/live` of the processes that serve no API.

Their probe server answers from a thread of its own (so a scrape never waits on a busy loop),
which also means it would answer "live" for a process whose main loop has stopped: a Faust
worker wedged in a call that never returns, a relay stuck on a dead connection. The loop beats
instead (a timer in the worker, each round of the relay's loop), and liveness is the age of
the last beat. Before the first beat the process is starting, not stalled: a long start
(projection rebuilds) is readiness's business. The keeper's watchdog (infra/keeper.py) polls
`/health/live` and restarts a process that stays stalled.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Heartbeat:
    def __init__(self, stall_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after = stall_after
        self._clock = clock
        self._last: float | None = None

    def beat(self) -> None:
        self._last = self._clock()

    def stalled(self) -> str | None:
        """Why the loop counts as stalled (no beat for longer than `stall_after`), or None."""
        if self._last is None:
            return None
        silent = self._clock() - self._last
        if silent <= self.stall_after:
            return None
        return f"the main loop has not beaten for {silent:.0f}s (limit {self.stall_after:.0f}s)"
