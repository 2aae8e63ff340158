"""Liveness and readiness, the same on every process.

Liveness says the process answers at all (restart it if not). Readiness says it can do its
work now: every dependency it needs answers *and* it does not run degraded (a fallback that
keeps it going but worse, such as appending events unencoded). A degraded process is not
ready, so that no fallback stays silent: it is also counted in `smartcourse_degraded` and
logged at ERROR when it begins.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import Gauge

log = logging.getLogger("smartcourse.health")

DEGRADED = Gauge("smartcourse_degraded",
                 "1 while the process runs in a degraded mode (the reason says which)",
                 ["reason"])
DEPENDENCY_UP = Gauge("smartcourse_dependency_up",
                      "1 if the dependency answered the last readiness check", ["dependency"])

Status = Literal["ok", "degraded", "failing"]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Readiness:
    """What a readiness probe answers: ok, degraded (runs, but worse) or failing."""

    status: Status
    checks: dict[str, CheckResult] = field(default_factory=dict)
    degraded: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status == "ok"

    def as_json(self) -> dict[str, object]:
        return {"status": self.status,
                "checks": {name: {"ok": c.ok, "detail": c.detail}
                           for name, c in self.checks.items()},
                "degraded": self.degraded}


class DegradedModes:
    """The degraded modes a process is in now, by reason (thread-safe)."""

    def __init__(self) -> None:
        self._modes: dict[str, str] = {}
        self._lock = threading.Lock()

    def enter(self, reason: str, detail: str) -> None:
        with self._lock:
            new = reason not in self._modes
            self._modes[reason] = detail
        DEGRADED.labels(reason).set(1)
        if new:
            log.error("running degraded: %s", reason, extra={"reason": reason,
                                                              "detail": detail})

    def leave(self, reason: str) -> None:
        with self._lock:
            was = self._modes.pop(reason, None)
        DEGRADED.labels(reason).set(0)
        if was is not None:
            log.warning("no longer degraded: %s", reason, extra={"reason": reason})

    def current(self) -> dict[str, str]:
        with self._lock:
            return dict(self._modes)


def summarise(checks: Mapping[str, CheckResult], degraded: Mapping[str, str]) -> Readiness:
    """Failing if a dependency is down, else degraded if any mode is on, else ok."""
    for name, result in checks.items():
        DEPENDENCY_UP.labels(name).set(1 if result.ok else 0)
    if not all(c.ok for c in checks.values()):
        status: Status = "failing"
    elif degraded:
        status = "degraded"
    else:
        status = "ok"
    return Readiness(status, dict(checks), dict(degraded))


AsyncCheck = Callable[[], Awaitable[object]]
SyncCheck = Callable[[], object]


async def check_async(checks: Mapping[str, AsyncCheck], modes: DegradedModes,
                      timeout: float = 2.0) -> Readiness:
    """Run every check at once, each bounded by `timeout`; an exception means down."""
    async def one(check: AsyncCheck) -> CheckResult:
        try:
            await asyncio.wait_for(check(), timeout)
        except Exception as error:  # noqa: BLE001 - any failure of a probe means "down"
            return CheckResult(False, _reason(error))
        return CheckResult(True)

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return summarise(dict(zip(checks, results, strict=True)), modes.current())


def check_sync(checks: Mapping[str, SyncCheck], modes: DegradedModes) -> Readiness:
    results = {}
    for name, check in checks.items():
        started = time.monotonic()
        try:
            check()
        except Exception as error:  # noqa: BLE001 - any failure of a probe means "down"
            results[name] = CheckResult(False, _reason(error))
        else:
            results[name] = CheckResult(True, f"{(time.monotonic() - started) * 1000:.0f} ms")
    return summarise(results, modes.current())


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
