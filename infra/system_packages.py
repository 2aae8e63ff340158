"""Installs Debian packages the stack needs, without letting them start system services.

Debian's server packages start their own daemon on install (PostgreSQL's main cluster on
5432, redis-server on 6379), which would take the very ports our stack uses. A temporary
policy-rc.d that forbids service starts keeps the install inert.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from infra.service import StackError

POLICY = Path("/usr/sbin/policy-rc.d")


def ensure_installed(binary: str, *packages: str) -> None:
    """Install `packages` unless `binary` already exists (a path or a name on PATH)."""
    if Path(binary).exists() or shutil.which(binary):
        return
    if os.geteuid() != 0:
        raise StackError(f"{binary} is missing; install {' '.join(packages)} (needs root)")
    created_policy = not POLICY.exists()
    if created_policy:
        POLICY.write_text("#!/bin/sh\nexit 101\n")
        POLICY.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        update = subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        install = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            env=env,
            capture_output=True,
            text=True,
        )
        if install.returncode != 0:
            raise StackError(
                f"apt-get install {' '.join(packages)} failed (update exit {update.returncode}):"
                f"\n{install.stderr[-2000:]}"
            )
    finally:
        if created_policy:
            POLICY.unlink(missing_ok=True)
