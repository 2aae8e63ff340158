"""SmartCourse's own long-running processes, supervised like the stack's services."""

from __future__ import annotations

import os
import sys

import httpx

import smartcourse
from infra.service import Service, StackError
from smartcourse.settings import Settings


class AppProcess(Service):
    """A `smartcourse <subcommand>` process; healthy when its HTTP endpoint answers."""

    subcommand: str
    health_path = "/health"
    liveness_path = "/health/live"  # answered by the main loop itself, or by its heartbeat
    restart_on_failure = True

    @property
    def version(self) -> str:
        return smartcourse.__version__

    @property
    def port(self) -> int:
        return next(iter(self.ports().values()))

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "smartcourse", self.subcommand]

    def environment(self) -> dict[str, str]:
        # The supervised processes are the local development stack: development signing keys
        # are theirs to use (servers elsewhere refuse them; docs/security.md).
        return {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
                "SMARTCOURSE_ENV": os.environ.get("SMARTCOURSE_ENV", "dev")}

    def liveness_url(self) -> str:
        return f"http://{self.settings.host}:{self.port}{self.liveness_path}"

    def healthy(self) -> bool:
        reply = httpx.get(f"http://{self.settings.host}:{self.port}{self.health_path}",
                          timeout=2)
        return reply.status_code == 200


def register_contracts_once(settings: Settings) -> None:
    """Every event contract registered before the processes that encode start (the command
    API appends encoded, the relay publishes): started at once, they raced to register the
    same subjects and one of them ran without its encoder. Idempotent; waits for the
    registry up to the start timeout."""
    from smartcourse.bootstrap import register_contracts

    try:
        register_contracts(settings, settings.start_timeout)
    except Exception as error:  # noqa: BLE001 - any failure stops the start, with its reason
        raise StackError(f"schema registry: cannot register the event contracts: {error}"
                         ) from error


class CommandApi(AppProcess):
    name = "command-api"
    subcommand = "command-api"
    health_path = "/health/ready"

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.command_api_port}

    def prepare(self) -> None:
        super().prepare()
        register_contracts_once(self.settings)


class RelayProcess(AppProcess):
    name = "relay"
    subcommand = "relay"
    health_path = "/health/ready"

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.relay_metrics_port}

    def prepare(self) -> None:
        super().prepare()
        register_contracts_once(self.settings)


class QueryApi(AppProcess):
    name = "query-api"
    subcommand = "query-api"
    health_path = "/health/ready"

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.query_api_port}


class Worker(AppProcess):
    """The Faust worker: the PostgreSQL projections and (here on) the publishing workflow."""

    name = "worker"
    subcommand = "worker"
    health_path = "/health/ready"

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.worker_metrics_port}

    def environment(self) -> dict[str, str]:
        # The supervised worker runs the publishing workflow unless told otherwise; test
        # workers leave it off so their runs don't act on other tests' courses.
        publishing = os.environ.get("SMARTCOURSE_WORKFLOW_PUBLISHING", "1")
        return {**super().environment(), "SMARTCOURSE_WORKFLOW_PUBLISHING": publishing,
                "SMARTCOURSE_WORKER_ANALYTICS": "0",
                # the enrollment workflow runs in the workflow-worker only
                "SMARTCOURSE_WORKFLOW_ENROLLMENT": "0", "SMARTCOURSE_WORKER_NOTIFICATIONS": "0",
                "SMARTCOURSE_WORKFLOW_ENHANCEMENT": "0"}


class AnalyticsWorker(Worker):
    """A Faust worker of its own for ClickHouse: its inserts (about one a second, large under
    load) would hold back the projections' batches on a shared event loop, and with them
    every read-your-writes wait (measured: p99 freshness 289 ms shared, 227 ms apart)."""

    name = "analytics-worker"

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.analytics_worker_metrics_port}

    def environment(self) -> dict[str, str]:
        return {**super().environment(),
                "SMARTCOURSE_WORKER_APP_ID": self.settings.analytics_worker_app_id,
                "SMARTCOURSE_WORKER_METRICS_PORT": str(self.settings.analytics_worker_metrics_port),
                "SMARTCOURSE_WORKER_PROJECTIONS": "0", "SMARTCOURSE_WORKER_ANALYTICS": "1",
                "SMARTCOURSE_WORKFLOW_PUBLISHING": "0"}


class WorkflowWorker(Worker):
    """The enrollment workflow and the notification sender, under a consumer group of their
    own: SMTP waits and the workflow's commands never hold back the read models. Test
    workers run without them (SMARTCOURSE_WORKFLOW_ENROLLMENT=0, the default), as with the
    publishing workflow, so they never act on other tests' events."""

    name = "workflow-worker"

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.workflow_worker_metrics_port}

    def environment(self) -> dict[str, str]:
        return {**super().environment(),
                "SMARTCOURSE_WORKER_APP_ID": self.settings.workflow_worker_app_id,
                "SMARTCOURSE_WORKER_METRICS_PORT": str(self.settings.workflow_worker_metrics_port),
                "SMARTCOURSE_WORKER_PROJECTIONS": "0", "SMARTCOURSE_WORKER_ANALYTICS": "0",
                "SMARTCOURSE_WORKFLOW_PUBLISHING": "0",
                "SMARTCOURSE_WORKFLOW_ENROLLMENT": os.environ.get(
                    "SMARTCOURSE_WORKFLOW_ENROLLMENT", "1"),
                "SMARTCOURSE_WORKER_NOTIFICATIONS": os.environ.get(
                    "SMARTCOURSE_WORKER_NOTIFICATIONS", "1"),
                # study-material drafts regenerated when their lesson changes (ADR 0042)
                "SMARTCOURSE_WORKFLOW_ENHANCEMENT": os.environ.get(
                    "SMARTCOURSE_WORKFLOW_ENHANCEMENT", "1")}
class AssistantApi(AppProcess):
    """The learning assistant (docs/adr/0020): its own process, because it holds the
    embedding model and, with the `local` provider, a language model on the CPU."""

    name = "assistant-api"
    subcommand = "assistant-api"
    liveness_path = "/health"  # its event loop answers it

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.assistant_api_port}


class Console(AppProcess):
    """The operator's web console (operations/console, docs/adr/0035)."""

    name = "console"
    subcommand = "console"
    health_path = "/health/ready"

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.console_port}
