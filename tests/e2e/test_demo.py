"""The README's main job: our processes start under supervision and the demo shows events
flowing from the command API through the store and the relay into Kafka."""

from __future__ import annotations

import re
import subprocess
import sys

from smartcourse.settings import Settings


def smartcourse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smartcourse", *args], capture_output=True,
                          text=True, timeout=300)


def test_demo_drives_commands_through_the_store_and_relay_into_kafka(
    app_processes: Settings,
) -> None:
    status = smartcourse("app", "status")
    assert status.returncode == 0, status.stdout + status.stderr

    demo = smartcourse("demo")

    assert demo.returncode == 0, demo.stderr
    accepted = re.search(r"(\d+) commands accepted", demo.stdout)
    assert accepted and int(accepted[1]) > 100, demo.stdout
    assert "enrollment.prerequisites_missing" in demo.stdout
    last = int(re.search(r"this demo's last: (\d+)", demo.stdout)[1])
    relayed = int(re.search(r"relay checkpoint: (\d+)", demo.stdout)[1])
    assert relayed >= last
