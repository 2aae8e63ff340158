"""Fault injection into a running process, for operators and reliability tests: a delay
and/or an error rate on one dependency, set and cleared over HTTP by an admin.

Off unless `SMARTCOURSE_CHAOS_ENABLED=true`: without it the endpoints do not exist (404) and
no hook does anything. Hooks sit where the process calls the dependency (the command API's
event store writes: `postgres`; the query API's read snapshots: `postgres`), and an injected
error is the error the real failure raises (psycopg.OperationalError), so the process
handles it the way it would handle the outage. Every injected fault is counted in
`smartcourse_chaos_faults_total`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import asdict, dataclass

import psycopg
from prometheus_client import Counter

log = logging.getLogger("smartcourse.chaos")

DEPENDENCIES = ("postgres", "redis", "kafka", "registry", "clickhouse", "weaviate")
INJECTED = Counter("smartcourse_chaos_faults_total", "Faults injected by the chaos hooks",
                   ["dependency", "kind"])


class InjectedFault(psycopg.OperationalError):
    """The failure a chaos rule injected: raised where the dependency's own error would be."""


@dataclass(frozen=True)
class Fault:
    delay_ms: float = 0.0
    error_rate: float = 0.0  # 0..1: the share of calls that fail


class FaultInjector:
    def __init__(self, enabled: bool, rng: random.Random | None = None) -> None:
        self.enabled = enabled
        self._faults: dict[str, Fault] = {}
        self._rng = rng or random.Random()

    def set(self, dependency: str, fault: Fault) -> None:
        if not self.enabled:
            raise PermissionError("fault injection is off (SMARTCOURSE_CHAOS_ENABLED)")
        if dependency not in DEPENDENCIES:
            raise ValueError(f"unknown dependency {dependency!r}")
        if not (0 <= fault.error_rate <= 1 and fault.delay_ms >= 0):
            raise ValueError("error_rate must be within 0..1 and delay_ms >= 0")
        self._faults[dependency] = fault
        log.warning("fault injected", extra={"dependency": dependency, **asdict(fault)})

    def clear(self, dependency: str | None = None) -> None:
        if dependency is None:
            self._faults.clear()
        else:
            self._faults.pop(dependency, None)
        log.warning("faults cleared", extra={"dependency": dependency or "all"})

    def active(self) -> dict[str, Fault]:
        return dict(self._faults)

    def decide(self, dependency: str) -> tuple[float, bool]:
        """(seconds to wait, whether to fail) for one call: pure, so it can be tested."""
        fault = self._faults.get(dependency) if self.enabled else None
        if fault is None:
            return 0.0, False
        return fault.delay_ms / 1000, self._rng.random() < fault.error_rate

    async def hit(self, dependency: str) -> None:
        """The hook: wait and/or fail as the rule for `dependency` says (nothing without)."""
        if not self._faults:
            return
        delay, fail = self.decide(dependency)
        if delay:
            INJECTED.labels(dependency, "delay").inc()
            await asyncio.sleep(delay)
        if fail:
            INJECTED.labels(dependency, "error").inc()
            raise InjectedFault(f"injected fault on {dependency} (chaos)")
