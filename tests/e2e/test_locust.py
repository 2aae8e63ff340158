"""The Locust journeys (bench/load/locustfile.py) run headless at small scale against the
supervised app: every persona's requests happen and none fails."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smartcourse.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.e2e


def test_the_personas_journeys_run_without_failures(app_processes: Settings,
                                                    tmp_path: Path) -> None:
    s = app_processes
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(PROJECT_ROOT / "bench/load/locustfile.py"),
         "--host", f"http://{s.host}:{s.command_api_port}",
         "--query-host", f"http://{s.host}:{s.query_api_port}", "--headless", "-u", "8",
         "-r", "8", "-t", "60s", "--csv", str(tmp_path / "run"), "--only-summary"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    with (tmp_path / "run_stats.csv").open() as f:
        stats = {row["Name"]: row for row in csv.DictReader(f)}
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("create course", "publish", "enroll", "complete lesson", "projections"):
        assert int(stats[name]["Request Count"]) > 0, name
    assert stats["Aggregated"]["Failure Count"] == "0", done.stderr[-2000:]
