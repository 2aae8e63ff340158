"""Fault injection: off unless enabled; a rule delays and fails its share of calls."""

from __future__ import annotations

import asyncio
import random

import pytest

from smartcourse.observability.chaos import Fault, FaultInjector, InjectedFault


def test_off_by_default_refuses_rules_and_injects_nothing() -> None:
    faults = FaultInjector(enabled=False)
    with pytest.raises(PermissionError):
        faults.set("postgres", Fault(error_rate=1))
    assert faults.decide("postgres") == (0.0, False)


def test_a_rule_fails_its_share_and_delays_every_call() -> None:
    faults = FaultInjector(enabled=True, rng=random.Random(7))
    faults.set("postgres", Fault(delay_ms=20, error_rate=0.25))
    decisions = [faults.decide("postgres") for _ in range(4000)]
    assert {delay for delay, _ in decisions} == {0.02}
    assert 0.22 < sum(fail for _, fail in decisions) / len(decisions) < 0.28
    assert faults.decide("redis") == (0.0, False)
    faults.clear()
    assert faults.decide("postgres") == (0.0, False)


def test_bad_rules_are_refused() -> None:
    faults = FaultInjector(enabled=True)
    for dependency, fault in (("postgres", Fault(error_rate=1.5)), ("nowhere", Fault())):
        with pytest.raises(ValueError):
            faults.set(dependency, fault)


def test_an_injected_error_is_the_dependency_error() -> None:
    faults = FaultInjector(enabled=True)
    faults.set("postgres", Fault(error_rate=1))
    with pytest.raises(InjectedFault) as raised:
        asyncio.run(faults.hit("postgres"))
    import psycopg

    assert isinstance(raised.value, psycopg.OperationalError)
