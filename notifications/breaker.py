"""The circuit breaker of one outgoing webhook endpoint (pure: the clock is a parameter).

    CLOSED --`failures_to_open` failures in a row--> OPEN (deliveries wait, none is tried)
    OPEN --cooldown passed--> HALF_OPEN (one delivery is tried: the probe)
    HALF_OPEN --probe delivered--> CLOSED      --probe failed--> OPEN (cooldown doubled)
    any failure once the endpoint has failed for `disable_after` without a success
        --> DISABLED (an event on the webhook registry; an admin re-enables it)

The state lives in `notifications.webhook_endpoints` (notifications/sender.py), one row per
endpoint, changed under a row lock; this module only says what a result does to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

CLOSED, OPEN, HALF_OPEN, DISABLED = "CLOSED", "OPEN", "HALF_OPEN", "DISABLED"


@dataclass(frozen=True)
class BreakerPolicy:
    failures_to_open: int = 5
    cooldown: timedelta = timedelta(seconds=30)
    max_cooldown: timedelta = timedelta(hours=1)
    disable_after: timedelta = timedelta(hours=24)

    def cooldown_after(self, opened: int) -> timedelta:
        """The wait before the probe after the endpoint opened `opened` times in a row."""
        return min(self.max_cooldown, self.cooldown * 2 ** max(0, opened - 1))


@dataclass(frozen=True)
class Endpoint:
    state: str = CLOSED
    failures: int = 0  # in a row
    failing_since: datetime | None = None  # the first failure since the last success
    retry_at: datetime | None = None  # when OPEN: the probe's time
    opened: int = 0  # times opened since the last success
    last_error: str = ""
    last_failure_at: datetime | None = None
    last_success_at: datetime | None = None


def admits(endpoint: Endpoint, now: datetime) -> str:
    """'try' (closed), 'probe' (open, its cooldown over), 'wait' or 'disabled'."""
    if endpoint.state == CLOSED:
        return "try"
    if endpoint.state == DISABLED:
        return "disabled"
    if endpoint.retry_at is not None and endpoint.retry_at <= now:
        return "probe"  # OPEN past its cooldown, or HALF_OPEN whose probe never reported
    return "wait"


def probing(endpoint: Endpoint, now: datetime, lease: timedelta) -> Endpoint:
    """The probe is out: no second one until it reports or its lease runs out."""
    return replace(endpoint, state=HALF_OPEN, retry_at=now + lease)


def succeeded(endpoint: Endpoint, now: datetime) -> Endpoint:
    if endpoint.state == DISABLED:
        return replace(endpoint, last_success_at=now)  # a try that was in flight: stays off
    return Endpoint(state=CLOSED, last_success_at=now, last_error=endpoint.last_error,
                    last_failure_at=endpoint.last_failure_at)


def failed(endpoint: Endpoint, error: str, now: datetime, policy: BreakerPolicy) -> Endpoint:
    if endpoint.state == DISABLED:
        return replace(endpoint, last_error=error[:1000], last_failure_at=now)
    failures = endpoint.failures + 1
    since = endpoint.failing_since or now
    after = replace(endpoint, failures=failures, failing_since=since,
                    last_error=error[:1000], last_failure_at=now)
    if failures >= policy.failures_to_open and now - since >= policy.disable_after:
        return replace(after, state=DISABLED, retry_at=None)
    if endpoint.state == HALF_OPEN or (endpoint.state == CLOSED
                                       and failures >= policy.failures_to_open):
        opened = endpoint.opened + 1
        return replace(after, state=OPEN, opened=opened,
                       retry_at=now + policy.cooldown_after(opened))
    return after  # CLOSED below the threshold, or OPEN (a try that was in flight)


def enabled(endpoint: Endpoint) -> Endpoint:
    """An admin re-enabled it: closed, counting from zero (its last error kept to show)."""
    return Endpoint(last_error=endpoint.last_error, last_failure_at=endpoint.last_failure_at,
                    last_success_at=endpoint.last_success_at)
