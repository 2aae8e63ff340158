"""Mailpit: an SMTP server that keeps every message and serves them over a REST API, for
the notification service's real SMTP sends in development and tests.

Built from its Go module (`go install github.com/axllent/mailpit@<version>`, under a minute),
the binary cached by version. Its web UI's assets are not part of the module (they need an
npm build of `server/ui`); the REST API (`/api/v1/messages`, `/api/v1/message/{id}`,
`DELETE /api/v1/messages`) is what tests and developers use here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from infra.service import Service, StackError

MODULE = "github.com/axllent/mailpit"


class Mailpit(Service):
    name = "mailpit"

    @property
    def binary(self) -> Path:
        return self.cache / "bin" / "mailpit"

    def ports(self) -> dict[str, int]:
        return {"smtp": self.settings.mailpit_smtp_port, "http": self.settings.mailpit_http_port}

    def install(self) -> None:
        if self.binary.exists():
            return
        if not shutil.which("go"):
            raise StackError("mailpit: the Go toolchain is needed to build mailpit")
        with tempfile.TemporaryDirectory() as scratch:
            env = {**os.environ, "CGO_ENABLED": "0", "GOBIN": scratch,
                   "GOFLAGS": "-buildvcs=false"}
            done = subprocess.run(["go", "install", f"{MODULE}@v{self.version}"], env=env,
                                  cwd=scratch, capture_output=True, text=True)
            if done.returncode != 0:
                raise StackError(f"mailpit: go install failed:\n{done.stderr[-3000:]}")
            self.binary.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(Path(scratch) / "mailpit", self.binary)  # whole, or not at all

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        s = self.settings
        return [str(self.binary),
                "--listen", f"{s.host}:{s.mailpit_http_port}",
                "--smtp", f"{s.host}:{s.mailpit_smtp_port}",
                "--database", str(self.data / "mailpit.db"),
                "--max", str(s.mailpit_max_messages),
                "--smtp-auth-accept-any", "--smtp-auth-allow-insecure",
                "--disable-version-check"]

    def healthy(self) -> bool:
        reply = httpx.get(f"{self.settings.mailpit_url}/api/v1/info", timeout=2)
        return reply.status_code == 200 and "Version" in reply.json()
