"""A circuit breaker per provider: after `threshold` failures in a row it opens and the chain
skips the provider for `reset_after` seconds; then one trial call (half-open) closes it on
success or opens it again on failure.

Written here rather than taken from aiobreaker/purgatory: those wrap one awaited call, while
a provider's call is a stream whose failure counts only before its first piece, and the
chain needs to ask "open?" before trying (to fall back without waiting).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class CircuitBreaker:
    threshold: int = 3
    reset_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trial: bool = field(default=False)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        if self.clock() - self.opened_at >= self.reset_after:
            return HALF_OPEN
        return OPEN

    def allow(self) -> bool:
        """May the provider be called now? Half-open lets one trial through."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self.trial:
            self.trial = True
            return True
        return False

    def succeeded(self) -> None:
        self.failures, self.opened_at, self.trial = 0, None, False

    def failed(self) -> None:
        self.failures += 1
        if self.trial or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self.trial = False
