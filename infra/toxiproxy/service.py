"""Toxiproxy (network faults for the chaos suite), built from its Go module and cached.

`go install github.com/Shopify/toxiproxy/v2/cmd/server@v<version>` (and `cmd/cli`) make
binaries named `server` and `cli`; they are cached as `toxiproxy-server` and `toxiproxy-cli`.
Its HTTP API (proxies and toxics) is driven directly by tests/chaos/toxiproxy.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from infra.service import Service, StackError

MODULE = "github.com/Shopify/toxiproxy/v2"


class Toxiproxy(Service):
    name = "toxiproxy"

    @property
    def binary(self) -> Path:
        return self.cache / "bin" / "toxiproxy-server"

    def ports(self) -> dict[str, int]:
        return {"api": self.settings.toxiproxy_port}

    def install(self) -> None:
        if self.binary.exists():
            return
        if not shutil.which("go"):
            raise StackError("toxiproxy: the Go toolchain is needed to build it")
        with tempfile.TemporaryDirectory() as scratch:
            env = {**os.environ, "GOBIN": scratch, "CGO_ENABLED": "0"}
            for tool in ("server", "cli"):
                done = subprocess.run(["go", "install", f"{MODULE}/cmd/{tool}@v{self.version}"],
                                      env=env, cwd=scratch, capture_output=True, text=True)
                if done.returncode != 0:
                    raise StackError(f"toxiproxy: go install cmd/{tool} failed:\n"
                                     f"{done.stderr[-3000:]}")
            self.binary.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(Path(scratch) / "cli", self.binary.parent / "toxiproxy-cli")
            shutil.move(Path(scratch) / "server", self.binary)  # last: the cache's marker

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [str(self.binary), "-host", self.settings.host,
                "-port", str(self.settings.toxiproxy_port)]

    def healthy(self) -> bool:
        reply = httpx.get(f"http://{self.settings.host}:{self.settings.toxiproxy_port}/version",
                          timeout=2)
        return reply.status_code == 200
