"""End-to-end fixtures: the platform's own processes, running as `smartcourse app up` runs
them, for the e2e package only (so integration tests never share the machine with them)."""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture(scope="module")
def urls(app_processes: Settings) -> dict[str, str]:
    """The three APIs' base URLs, once the supervised worker holds every stored event."""
    from smartcourse.local_servers import wait_until_caught_up

    s = app_processes
    wait_until_caught_up(s)
    return {"writes": f"http://{s.host}:{s.command_api_port}",
            "reads": f"http://{s.host}:{s.query_api_port}",
            "assistant": f"http://{s.host}:{s.assistant_api_port}"}
