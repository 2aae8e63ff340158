"""Schemathesis over the command API's OpenAPI spec: whatever it sends, never a 5xx."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from smartcourse.settings import Settings
from tests.support import webhooks
from tests.support.command_client import CommandClient


def test_no_server_errors_for_generated_requests(command_api: str, stack: Settings,
                                                 tmp_path: Path) -> None:
    admin = CommandClient(command_api, role="admin")
    start = webhooks.store_head(stack)
    schemathesis = shutil.which("schemathesis") or str(
        Path(sys.executable).with_name("schemathesis"))
    try:
        run = subprocess.run(
            [schemathesis, "run", f"{command_api}/openapi.json",
             "--checks", "not_a_server_error",
             "--header", f"Authorization: {admin.headers['Authorization']}",
             "--max-examples", "25", "--phases", "examples,coverage,fuzzing",
             "--workers", "1", "--seed", "2026",
             "--report-junit-path", str(tmp_path / "schemathesis.xml")],
            capture_output=True, text=True, timeout=600,
        )
    finally:  # the generated webhooks point anywhere
        webhooks.remove_registered_since(stack, command_api, start)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert generated, run.stdout[-3000:]
    assert int(generated[1]) == int(generated[2]) > 500
