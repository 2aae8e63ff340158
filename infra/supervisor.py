"""Starts, watches and stops the services of the local stack, the same way for each.

A service runs in its own session, its output in `<data>/logs/<name>.log`, its pid and start
time in `<data>/run/<name>.pid` (the start time guards against a recycled pid). `up` is
idempotent: a running, healthy service is left alone. A port held by another program is
reported with that program's name and pid instead of starting a second instance.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from infra.keeper import read_state
from infra.service import Service, StackError

POLL_SECONDS = 0.25
STOP_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    version: str
    endpoint: str
    pid: int | None
    healthy: bool
    restarts: int | None = None  # for a service kept running: how often its keeper restarted it
    state: str | None = None  # the keeper's: running, backoff, failed (crash loop), ...


def running_process(service: Service) -> psutil.Process | None:
    """The service's process if its pid file names a live process we started."""
    try:
        pid_text, started_text = service.pid_file.read_text().split()
        proc = psutil.Process(int(pid_text))
        if abs(proc.create_time() - float(started_text)) > 1.0:
            return None  # the pid was recycled by an unrelated process
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (FileNotFoundError, ValueError, psutil.Error):
        return None


def listeners(port: int) -> list[psutil.Process]:
    """Processes listening on a TCP port (any address)."""
    found = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            try:
                found.append(psutil.Process(conn.pid)) if conn.pid else None
            except psutil.Error:
                continue
    return found


def _family(proc: psutil.Process) -> set[int]:
    try:
        return {proc.pid} | {child.pid for child in proc.children(recursive=True)}
    except psutil.Error:
        return {proc.pid}


def check_ports_free(service: Service) -> None:
    for purpose, port in service.ports().items():
        holders = listeners(port)
        if holders:
            who = ", ".join(f"{p.name()} (pid {p.pid})" for p in holders)
            raise StackError(
                f"{service.name}: port {port} ({purpose}) is already taken by {who}; "
                f"stop that program or choose another port with SMARTCOURSE_* settings"
            )


def check_ports_owned(service: Service, proc: psutil.Process) -> None:
    """After a start, every port must belong to our process: guards against a silent clash."""
    ours = _family(proc)
    for purpose, port in service.ports().items():
        holders = {p.pid for p in listeners(port)}
        if not holders & ours:
            strangers = ", ".join(str(pid) for pid in holders) or "nobody"
            raise StackError(
                f"{service.name}: answers its health check but port {port} ({purpose}) is held "
                f"by pid {strangers}, not by the process we started (pid {proc.pid}); "
                f"see {service.log_file}"
            )


def tail(path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log yet)"


def launch(service: Service) -> psutil.Process:
    """Start the service process in the background and record its pid."""
    proc = running_process(service)
    if proc is not None:
        return proc
    check_ports_free(service)
    service.install()
    service.prepare()
    service.log_file.parent.mkdir(parents=True, exist_ok=True)
    service.pid_file.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **service.environment()}
    argv = service.command()
    if service.restart_on_failure:
        service.state_file.unlink(missing_ok=True)
        s = service.settings
        argv = [sys.executable, "-m", "infra.keeper", "--name", service.name,
                "--state", str(service.state_file), "--backoff", str(s.app_restart_backoff),
                "--max-backoff", str(s.app_restart_max_backoff),
                "--burst", str(s.app_restart_burst), "--interval", str(s.app_restart_interval),
                *_watchdog_options(service), "--", *argv]
    with service.log_file.open("ab") as log:
        log.write(f"\n--- starting {service.name} {service.version} at {time.ctime()}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            argv,
            cwd=service.workdir(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=service.run_as,
            group=service.run_as,
        )
    proc = psutil.Process(popen.pid)
    service.pid_file.write_text(f"{proc.pid} {proc.create_time()}\n")
    return proc


def _watchdog_options(service: Service) -> list[str]:
    s, url = service.settings, service.liveness_url()
    if url is None or s.app_watchdog_misses <= 0:
        return []
    return ["--watch", url, "--watch-interval", str(s.app_watchdog_interval),
            "--watch-timeout", str(s.app_watchdog_timeout),
            "--watch-misses", str(s.app_watchdog_misses)]


def wait_healthy(service: Service, proc: psutil.Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
            code = _exit_code(proc)
            raise StackError(
                f"{service.name}: exited during start (exit code {code}); "
                f"log {service.log_file}:\n{tail(service.log_file)}"
            )
        if _safe_healthy(service):
            check_ports_owned(service, proc)
            service.after_start()
            return
        time.sleep(POLL_SECONDS)
    raise StackError(
        f"{service.name}: not healthy after {timeout:.0f}s; log {service.log_file}:\n"
        f"{tail(service.log_file)}"
    )


def _exit_code(proc: psutil.Process) -> int | None:
    try:
        return proc.wait(timeout=0)
    except psutil.Error:
        return None


def _safe_healthy(service: Service) -> bool:
    try:
        return service.healthy()
    except Exception:  # noqa: BLE001 - any failure of the probe means "not yet"
        return False


def up(services: Iterable[Service], timeout: float) -> None:
    """Start every service (installing on first use) and wait until each is healthy.

    All processes are launched first and then awaited, so slow starters overlap.
    """
    services = list(services)
    for service in services:  # report every clash before starting anything
        if running_process(service) is None:
            check_ports_free(service)
    started = [(service, launch(service)) for service in services]
    for service, proc in started:
        wait_healthy(service, proc, timeout)


def stop(service: Service) -> bool:
    """Stop cleanly (then forcefully after a grace period); False if it was not running."""
    proc = running_process(service)
    if proc is None:
        service.pid_file.unlink(missing_ok=True)
        return False
    proc.send_signal(service.stop_signal)
    if not _wait_gone(proc, STOP_GRACE_SECONDS):
        for p in [proc, *proc.children(recursive=True)]:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                continue
        _wait_gone(proc, 10)
    service.pid_file.unlink(missing_ok=True)
    return True


def _wait_gone(proc: psutil.Process, timeout: float) -> bool:
    """Wait until the process has exited. A zombie counts as gone: a service started by an
    earlier CLI run is not our child, and its new parent may reap it only seconds later."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(POLL_SECONDS / 5)
    return False


def purge(service: Service) -> None:
    if running_process(service) is not None:
        raise StackError(f"{service.name}: still running; stop it before purging")
    shutil.rmtree(service.data, ignore_errors=True)
    service.log_file.unlink(missing_ok=True)


def child_pid(service: Service) -> int | None:
    """The pid of the process a keeper runs for the service (None while it is restarting)."""
    if not service.restart_on_failure or running_process(service) is None:
        return None
    kept = read_state(service.state_file)
    return kept.child_pid if kept is not None else None


def status(service: Service) -> ServiceStatus:
    proc = running_process(service)
    kept = read_state(service.state_file) if service.restart_on_failure else None
    pid = proc.pid if proc else None
    if kept is not None and proc is not None:
        pid = kept.child_pid
    return ServiceStatus(
        name=service.name,
        version=service.version,
        endpoint=service.endpoint(),
        pid=pid,
        healthy=proc is not None and _safe_healthy(service),
        restarts=kept.restarts if kept is not None else None,
        state=(kept.state if proc is not None else "failed" if kept.state == "failed"
               else "stopped") if kept is not None else None,
    )
