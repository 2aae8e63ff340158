"""The chaos suite's scale: SMARTCOURSE_CHAOS_SCALE=small (CI: a few minutes in all) or full."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from smartcourse.settings import Settings


@dataclass(frozen=True)
class ChaosScale:
    name: str
    courses: int
    lessons: int
    capacity: int
    students: int
    concurrency: int


SCALES = {"small": ChaosScale("small", 2, 3, 15, 40, 8),
          "full": ChaosScale("full", 10, 6, 120, 1500, 32)}


@pytest.fixture(scope="session")
def chaos_scale() -> ChaosScale:
    return SCALES[os.environ.get("SMARTCOURSE_CHAOS_SCALE", "small")]


@pytest.fixture(scope="package")
def app_processes(stack: Settings) -> Iterator[Settings]:
    """SmartCourse's processes as `smartcourse app up` runs them (under their keepers);
    those this fixture started are stopped at the end."""
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
