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

import httpx

from smartcourse.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(command: str, settings: Settings, log_dir: Path, *args: str,
          health: str = "/health", env: dict[str, str] | None = None,
          start_timeout: float = 180) -> Iterator[str]:
    """Run `smartcourse <command> --port P`, wait until `health` answers 200 (readiness by
    default; "/health/live" for a process expected to run degraded), yield the base URL."""
    port = free_port()
    log = (log_dir / f"{command}-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartcourse", command, "--port", str(port), *args],
        env={**os.environ, "SMARTCOURSE_DATA_DIR": str(settings.data_dir), **(env or {})},
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://{settings.host}:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command} exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{base}{health}", timeout=1).status_code == 200:
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


def store_head(settings: Settings) -> int:
    import psycopg

    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute("SELECT coalesce(max(position), 0) FROM event_store.events").fetchone()
    return row[0] if row else 0


def wait_until_caught_up(settings: Settings, timeout: float = 300) -> None:
    """Until every projection holds every event the store held when the wait began: a relay
    and a worker just started first work off the backlog (the relay's own checkpoint may
    still be behind the store). Reads the positions the query API's /projections reports,
    from the database directly (no admin token needed). Bounded poll."""
    import psycopg

    from projections.positions import projection_positions

    target = store_head(settings)
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(settings.pg_dsn) as conn:
            reached = projection_positions(conn, settings.worker_topic_partitions,
                                           topic_prefix=settings.worker_topic_prefix)
        behind = {name: target - position for name, position in reached.items()
                  if position < target}
        if reached and not behind:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"projections still behind after {timeout:.0f}s: {behind}")
        time.sleep(0.5)  # a bounded poll of a catching-up worker


def wait_until_analytics_caught_up(settings: Settings, timeout: float = 300) -> None:
    """Until the ClickHouse sink holds every event the store held when the wait began (a
    restarted analytics worker first works off its backlog). Bounded poll."""
    from projections.analytics.clients import writer_client
    from projections.analytics.sink import read_checkpoints

    target = store_head(settings)
    client = writer_client(settings)
    prefix = f"{settings.worker_topic_prefix}."
    deadline = time.monotonic() + timeout
    try:
        while True:
            reached = [position for (topic, _), position in read_checkpoints(
                client, settings.analytics_database, "analytics").items()
                if topic.startswith(prefix)]
            if target == 0 or (reached and min(reached) >= target):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"analytics still behind after {timeout:.0f}s: "
                                   f"{min(reached, default=0)} of {target}")
            time.sleep(0.5)  # a bounded poll of a catching-up worker
    finally:
        client.close()
