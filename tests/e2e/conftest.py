"""End-to-end fixtures: the platform's own processes, running as `smartcourse app up` runs
them, for the e2e package only (so integration tests never share the machine with them)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from smartcourse.settings import Settings


@pytest.fixture(scope="package")
def app_processes(stack: Settings) -> Iterator[Settings]:
    """SmartCourse's own processes (APIs, relay, worker) as `smartcourse app up` runs them;
    those this fixture started are stopped at the end."""
    import subprocess
    import sys

    from infra import stack as local_stack

    already = {s.name for s in local_stack.status(stack, group=local_stack.APP_CLASSES)
               if s.pid}
    started = subprocess.run([sys.executable, "-m", "smartcourse", "app", "up"],
                             capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, started.stdout + started.stderr
    yield stack
    ours = [n for n in local_stack.APP_CLASSES if n not in already]
    if ours:
        local_stack.down(stack, ours, group=local_stack.APP_CLASSES)


def wait_until_caught_up(settings: Settings, timeout: float = 300) -> None:
    """Until every projection has reached the relay's position (a backlog left by earlier
    tests is worked off first). Polls the query API's /projections, bounded."""
    from tests.support.command_client import CommandClient

    admin = CommandClient(f"http://{settings.host}:{settings.command_api_port}", role="admin")
    url = f"http://{settings.host}:{settings.query_api_port}/projections"
    deadline = time.monotonic() + timeout
    while True:
        status = httpx.get(url, headers=admin.headers, timeout=10).json()
        lags = {p["name"]: p["lag_events"] for p in status["projections"]}
        if all(lag == 0 for lag in lags.values()):
            return
        assert time.monotonic() < deadline, f"projections still behind: {lags}"
        time.sleep(0.5)  # a bounded poll of a catching-up worker
