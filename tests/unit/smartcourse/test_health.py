"""Readiness: failing when a dependency is down, degraded when a fallback runs, else ok;
a degraded mode is a metric and an ERROR line."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import REGISTRY

from smartcourse.observability.health import DegradedModes, check_async, check_sync


def test_all_answering_and_no_fallback_is_ready() -> None:
    report = check_sync({"db": lambda: None}, DegradedModes())
    assert report.ready and report.status == "ok" and report.checks["db"].ok


def test_a_dependency_down_is_failing_with_its_reason() -> None:
    def down() -> None:
        raise ConnectionRefusedError("connection refused")

    report = check_sync({"db": lambda: None, "kafka": down}, DegradedModes())
    assert report.status == "failing" and not report.ready
    assert report.checks["kafka"].detail == "ConnectionRefusedError: connection refused"
    assert REGISTRY.get_sample_value("smartcourse_dependency_up", {"dependency": "kafka"}) == 0


def test_a_degraded_mode_is_not_ready_and_is_said(caplog: pytest.LogCaptureFixture) -> None:
    modes = DegradedModes()
    with caplog.at_level(logging.ERROR, logger="smartcourse.health"):
        modes.enter("unit_fallback", "the registry is away")
        modes.enter("unit_fallback", "the registry is away")  # logged once
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert REGISTRY.get_sample_value("smartcourse_degraded", {"reason": "unit_fallback"}) == 1
    report = check_sync({"db": lambda: None}, modes)
    assert report.status == "degraded" and report.degraded == {
        "unit_fallback": "the registry is away"}
    modes.leave("unit_fallback")
    assert check_sync({"db": lambda: None}, modes).ready
    assert REGISTRY.get_sample_value("smartcourse_degraded", {"reason": "unit_fallback"}) == 0


def test_async_checks_are_bounded_by_their_timeout() -> None:
    async def hangs() -> None:
        await asyncio.sleep(10)

    report = asyncio.run(check_async({"slow": hangs}, DegradedModes(), timeout=0.05))
    assert report.status == "failing" and report.checks["slow"].detail == "TimeoutError"
