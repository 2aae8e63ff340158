"""`smartcourse replay clickhouse|weaviate`: the same command rebuilds the other stores."""

from __future__ import annotations

import os
import subprocess
import sys

from smartcourse.settings import Settings


def smartcourse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smartcourse", *args], capture_output=True,
                          text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_dry_runs_change_nothing_and_say_what_they_would_do(stack: Settings) -> None:
    for store in ("clickhouse", "weaviate"):
        run = smartcourse("replay", store, "--dry-run")
        assert run.returncode == 0, run.stderr
        assert f"dry run: {store}" in run.stdout


def test_weaviate_rebuild_moves_the_alias_to_a_new_collection(stack: Settings) -> None:
    run = smartcourse("replay", "weaviate")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{stack.weaviate_collection}:" in run.stdout and " -> " in run.stdout


def test_unknown_store_or_projection_is_a_one_line_error(stack: Settings) -> None:
    run = smartcourse("replay", "elasticsearch")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "clickhouse, weaviate" in run.stderr
