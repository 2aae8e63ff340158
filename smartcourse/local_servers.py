"""Starts the project's own HTTP servers as subprocesses (tests, benchmarks, the demo)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import httpx

from smartcourse.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(command: str, settings: Settings, log_dir: Path, *args: str) -> Iterator[str]:
    """Run `smartcourse <command> --port P`, wait for /health, yield the base URL."""
    port = free_port()
    log = (log_dir / f"{command}-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartcourse", command, "--port", str(port), *args],
        env={**os.environ, "SMARTCOURSE_DATA_DIR": str(settings.data_dir)},
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://{settings.host}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command} exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not become healthy; see {log.name}")
            time.sleep(0.1)  # polling a starting server, bounded by the deadline
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_until_caught_up(settings: Settings, timeout: float = 300) -> None:
    """Until every projection has reached the relay's position, as the query API's
    /projections reports it (a worker first works off any backlog). Bounded poll."""
    from commands.api.auth import issue_token

    admin = {"Authorization": f"Bearer {issue_token(settings, uuid4(), 'admin')}"}
    url = f"http://{settings.host}:{settings.query_api_port}/projections"
    deadline = time.monotonic() + timeout
    while True:
        status = httpx.get(url, headers=admin, timeout=10).json()
        lags = {p["name"]: p["lag_events"] for p in status["projections"]}
        if lags and all(lag == 0 for lag in lags.values()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"projections still behind after {timeout:.0f}s: {lags}")
        time.sleep(0.5)  # a bounded poll of a catching-up worker
