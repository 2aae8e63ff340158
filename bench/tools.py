"""Load-generation tools for the benchmarks, installed from the Go module proxy and cached."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from infra.versions import version_of
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
