"""Liveness of the processes that serve no API is their main loop's heartbeat: the probe
thread would otherwise answer "live" for a wedged loop."""

from __future__ import annotations

import json
import socket

import httpx

from smartcourse.observability.health import Readiness
from smartcourse.observability.heartbeat import Heartbeat
from smartcourse.observability.probes import start_probe_server


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_loop_that_stops_beating_counts_as_stalled_only_after_the_limit() -> None:
    clock = Clock()
    heartbeat = Heartbeat(stall_after=30, clock=clock)
    assert heartbeat.stalled() is None  # never beaten: starting, not stalled
    heartbeat.beat()
    clock.now += 30
    assert heartbeat.stalled() is None
    clock.now += 1
    assert "31s" in (heartbeat.stalled() or "")
    heartbeat.beat()
    assert heartbeat.stalled() is None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_probe_server_answers_503_on_live_while_the_loop_is_stalled() -> None:
    clock = Clock()
    heartbeat = Heartbeat(stall_after=5, clock=clock)
    heartbeat.beat()
    port = free_port()
    server = start_probe_server("127.0.0.1", port, lambda: Readiness("ok"),
                                heartbeat.stalled)
    try:
        live = f"http://127.0.0.1:{port}/health/live"
        assert httpx.get(live, timeout=5).status_code == 200
        clock.now += 6
        stalled = httpx.get(live, timeout=5)
        assert stalled.status_code == 503
        assert json.loads(stalled.text)["status"] == "stalled"
        heartbeat.beat()
        assert httpx.get(live, timeout=5).status_code == 200
    finally:
        server.shutdown()
