"""Faults, one at a time: signals to app processes (the keeper restarts what dies), restarts
of stack services, and network toxics through Toxiproxy. Each `inject` returns once the fault
is over (the process signalled, the service back, the toxic removed)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psutil

from infra import stack as local_stack
from infra import supervisor
from smartcourse.settings import Settings


def pause(seconds: float) -> None:
    threading.Event().wait(seconds)


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Settings], None]
    proxied: bool = False  # the load goes through a command API whose links pass Toxiproxy
    full_only: bool = False  # left out of the small (CI) scale


def kill(process: str, sig: signal.Signals = signal.SIGKILL) -> Fault:
    def inject(settings: Settings) -> None:
        service = local_stack.service(process, settings, local_stack.APP_CLASSES)
        pid = supervisor.child_pid(service)
        assert pid is not None, f"{process} is not running under its keeper"
        os.kill(pid, sig)
    return Fault(f"SIGKILL {process}", inject)


def freeze(process: str, seconds: float = 5.0) -> Fault:
    def inject(settings: Settings) -> None:
        service = local_stack.service(process, settings, local_stack.APP_CLASSES)
        pid = supervisor.child_pid(service)
        assert pid is not None, f"{process} is not running under its keeper"
        os.kill(pid, signal.SIGSTOP)
        pause(seconds)
        os.kill(pid, signal.SIGCONT)
    return Fault(f"SIGSTOP {process} {seconds:.0f}s", inject)


def restart(name: str, sig: signal.Signals | None = None, label: str = "") -> Fault:
    """Stop a stack service (its own clean stop, or `sig` to its process) and start it again."""
    def inject(settings: Settings) -> None:
        service = local_stack.service(name, settings)
        if sig is None:
            supervisor.stop(service)
        else:
            proc = supervisor.running_process(service)
            assert proc is not None, f"{name} is not running"
            proc.send_signal(sig)
            psutil.wait_procs([proc], timeout=60)
        supervisor.up([service], timeout=settings.start_timeout)
    return Fault(f"restart {name}{label}", inject)


def network(kind: str, proxy: str, seconds: float = 4.0, **attributes: object) -> Fault:
    """A toxic (latency, timeout, reset_peer) or a partition (kind "partition") on a link."""
    def inject(settings: Settings) -> None:
        from tests.chaos.toxiproxy import Toxiproxy

        toxiproxy = Toxiproxy(settings.host, settings.toxiproxy_port)
        try:
            if kind == "partition":
                toxiproxy.enable(proxy, False)
            else:
                toxiproxy.toxic(proxy, kind, **attributes)
            pause(seconds)
        finally:
            toxiproxy.clear(proxy)
    return Fault(f"{kind} {proxy}", inject, proxied=True)


def rebalance(process: str, seconds: float = 8.0) -> Fault:
    """A second instance of a worker joins its consumer group (the partitions are shared
    out again), works `seconds` under the load, and dies by SIGKILL (they are shared out
    once more, with what it had fetched but not acknowledged handed to the first)."""
    def inject(settings: Settings) -> None:
        service = local_stack.service(process, settings, local_stack.APP_CLASSES)
        with socket.socket() as probe:
            probe.bind((settings.host, 0))
            port = probe.getsockname()[1]
        env = {**os.environ, **service.environment(),
               "SMARTCOURSE_WORKER_METRICS_PORT": str(port)}
        log = settings.data_dir / "logs" / f"chaos-second-{process}.log"
        with log.open("ab") as out:
            second = subprocess.Popen(service.command(), env=env, stdout=out,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            end = time.monotonic() + settings.start_timeout
            while not _ready(f"http://{settings.host}:{port}/health/ready"):
                assert second.poll() is None, f"the second {process} exited; see {log}"
                assert time.monotonic() < end, f"the second {process} never got ready"
                pause(0.5)
            pause(seconds)
        finally:
            second.kill()
            second.wait(30)
    return Fault(f"second {process} joins, then SIGKILL", inject)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
