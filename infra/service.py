"""What every service of the local stack provides to the supervisor.

A service knows how to install itself (cached by version), prepare its data folder, the
command that runs it in the foreground, and a real health request. The supervisor does the
rest (pid files, logs, port checks, waiting, stopping), the same way for every service.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from infra.versions import version_of
from smartcourse.settings import Settings


class StackError(Exception):
    """A service could not be installed, started or stopped; the message says which and why."""


class Service(ABC):
    name: ClassVar[str]
    # Signal that asks the service for a clean shutdown.
    stop_signal: ClassVar[int] = signal.SIGTERM
    # Operating-system user the process runs as (PostgreSQL refuses to run as root).
    run_as: ClassVar[str | None] = None
    # Started under a keeper (infra/keeper.py) that restarts it when it dies of a failure.
    restart_on_failure: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- identity and places -------------------------------------------------------------
    @property
    def version(self) -> str:
        return version_of(self.name)

    @property
    def data(self) -> Path:
        """The service's own data folder (kept by `down`, deleted by `down --purge`)."""
        return self.settings.data_dir / self.name

    @property
    def log_file(self) -> Path:
        return self.settings.data_dir / "logs" / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.settings.data_dir / "run" / f"{self.name}.pid"

    @property
    def state_file(self) -> Path:
        """The keeper's state (child pid, restarts), for a service kept running."""
        return self.settings.data_dir / "run" / f"{self.name}.state.json"

    @property
    def cache(self) -> Path:
        """Version-keyed cache folder for downloads and builds, outside the data folder."""
        return self.settings.cache_dir / f"{self.name}-{self.version}"

    # -- what each service defines -------------------------------------------------------
    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Every TCP port the service listens on, by purpose."""

    def install(self) -> None:
        """Make the service's binaries available; idempotent and cached by version."""

    def prepare(self) -> None:
        """Set up the data folder and config files before a start; idempotent."""

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that runs the service in the foreground."""

    def environment(self) -> dict[str, str]:
        """Extra environment variables for the process."""
        return {}

    def workdir(self) -> Path:
        return self.data

    @abstractmethod
    def healthy(self) -> bool:
        """True when the service answers a real request (not just an open port)."""

    def liveness_url(self) -> str | None:
        """A URL that answers 200 while the process works (the keeper's watchdog polls it);
        None: not watched."""
        return None

    def after_start(self) -> None:
        """One-off setup that needs the running service (users, databases); idempotent."""

    def endpoint(self) -> str:
        """How clients reach it, for `stack status`."""
        return ", ".join(f"{k}={self.settings.host}:{v}" for k, v in self.ports().items())
