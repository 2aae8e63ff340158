"""`smartcourse app up` keeps its processes running: a SIGKILLed process comes back by itself,
healthy, and says so in `app status` and on its /metrics."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from infra import stack as local_stack
from infra import supervisor
from infra.keeper import read_state
from smartcourse.settings import Settings

pytestmark = pytest.mark.e2e
DEADLINE = 120.0


def restarts_metric(settings: Settings, port: int, name: str) -> float | None:
    text = httpx.get(f"http://{settings.host}:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("smartcourse_process_restarts{") and f'process="{name}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("name", ["relay", "worker", "command-api"])
def test_a_killed_app_process_is_restarted_and_counted(app_processes: Settings,
                                                       name: str) -> None:
    service = local_stack.service(name, app_processes, local_stack.APP_CLASSES)
    before = supervisor.status(service)
    assert before.healthy and before.pid and before.restarts is not None

    os.kill(before.pid, signal.SIGKILL)

    end = time.monotonic() + DEADLINE
    while True:
        now = supervisor.status(service)
        if now.healthy and now.pid not in (None, before.pid):
            break
        assert time.monotonic() < end, f"{name} did not come back: {now}"
        threading.Event().wait(0.2)
    assert now.restarts == before.restarts + 1 and now.state == "running"
    assert restarts_metric(app_processes, service.port, name) == now.restarts


def test_a_stuck_worker_is_ended_by_the_watchdog_and_comes_back(app_processes: Settings
                                                                ) -> None:
    """Alive but stuck (SIGSTOP: its ports accept, nothing answers, nothing is consumed): the
    keeper's watchdog stops waiting after a few failed liveness probes, ends it and starts it
    again, and `app status` says why. The worker is restarted with a quicker watchdog for
    the test (the default gives a stuck process a minute), then as before."""
    quick = app_processes.model_copy(update={
        "app_watchdog_interval": 1.0, "app_watchdog_timeout": 1.0, "app_watchdog_misses": 3})
    group = local_stack.APP_CLASSES
    supervisor.stop(local_stack.service("worker", app_processes, group))
    local_stack.up(quick, ["worker"], group)
    service = local_stack.service("worker", quick, group)
    try:
        before = supervisor.status(service)
        assert before.healthy and before.pid
        time.sleep(3)  # the watchdog has seen it answer
        os.kill(before.pid, signal.SIGSTOP)

        end = time.monotonic() + DEADLINE
        while True:
            now = supervisor.status(service)
            if now.healthy and now.pid not in (None, before.pid):
                break
            assert time.monotonic() < end, f"the stuck worker did not come back: {now}"
            threading.Event().wait(0.2)
        kept = read_state(service.state_file)
        assert kept is not None and kept.watchdog_kills == 1 and kept.restarts == 1
        assert kept.reason is not None and kept.reason.startswith("watchdog:")
    finally:
        supervisor.stop(service)
        local_stack.up(app_processes, ["worker"], group)
