"""Faults, one at a time: signals to app processes (the keeper restarts what dies), restarts
of stack services, and network toxics through Toxiproxy. Each `inject` returns once the fault
is over (the process signalled, the service back, the toxic removed)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

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
