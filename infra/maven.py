"""Fetches jars and archives from Maven Central with the ordinary `mvn` client.

Used by the Kafka and schema-registry services; Maven keeps its own cache in ~/.m2, so a
second install on the same machine does not download again.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from infra.service import StackError
from infra.system_packages import ensure_installed

# Pinned so the same goals behave the same everywhere (Debian's Maven defaults to 2.8).
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

# Written last into a finished cache folder: a folder without it is a half-finished download.
MARKER = ".complete"


def ensure_maven() -> None:
    ensure_installed("java", "openjdk-17-jre-headless")
    ensure_installed("mvn", "maven")


def run_maven(who: str, goal: str, *args: str, cwd: Path) -> None:
    """Run one goal of the dependency plugin; raise StackError with Maven's output on failure."""
    ensure_maven()
    done = subprocess.run(
        ["mvn", "-B", "--no-transfer-progress", f"{DEPENDENCY_PLUGIN}:{goal}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-3000:]
        raise StackError(f"{who}: mvn {goal} failed (exit {done.returncode}):\n{output}")


def is_complete(folder: Path) -> bool:
    return (folder / MARKER).exists()


def start_fresh(folder: Path) -> None:
    """Remove a half-finished cache folder and create it empty."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def mark_complete(folder: Path) -> None:
    (folder / MARKER).write_text("ok\n")
