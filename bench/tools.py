"""Load-generation tools for the benchmarks, installed from the Go module proxy and cached."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.versions import version_of
from smartcourse.local_servers import wait_until_analytics_caught_up, wait_until_caught_up
from smartcourse.settings import Settings


def vegeta(settings: Settings) -> Path:
    """vegeta: an open-loop (constant arrival rate) HTTP load generator."""
    version = version_of("tools", "vegeta")
    folder = settings.cache_dir / f"vegeta-{version}"
    binary = folder / "vegeta"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["go", "install", f"github.com/tsenart/vegeta/v12@v{version}"],
            env={**os.environ, "GOBIN": str(folder)}, check=True, capture_output=True,
        )
    return binary


@contextmanager
def app_running(settings: Settings) -> Iterator[None]:
    """The stack and SmartCourse's own processes, up for the benchmark; those it had to
    start are stopped afterwards, so a benchmark leaves the machine as it found it."""
    from infra import stack

    stack.up(settings)
    already = {s.name for s in stack.status(settings, group=stack.APP_CLASSES) if s.pid}
    stack.up(settings, group=stack.APP_CLASSES)
    try:
        wait_until_caught_up(settings)
        if settings.worker_analytics:  # its backlog would compete for the CPU measured
            wait_until_analytics_caught_up(settings)
        yield
    finally:
        started = [n for n in stack.APP_CLASSES if n not in already]
        if started:
            stack.down(settings, started, group=stack.APP_CLASSES)
