"""The processes we supervise, in start order, and the operations over a group of them.

Two groups: the stack (the real services the platform needs) and the app (SmartCourse's
own processes: APIs, relay, workers), supervised the same way.
"""

from __future__ import annotations

from importlib import import_module

from infra import supervisor
from infra.service import Service, StackError
from infra.supervisor import ServiceStatus
from smartcourse.settings import Settings

# name -> "module:Class"; imported lazily so `stack status` does not load every driver.
SERVICE_CLASSES = {
    "postgres": "infra.postgres.service:Postgres",
    "redis": "infra.redis.service:Redis",
    "kafka": "infra.kafka.service:Kafka",
    "registry": "infra.registry.service:SchemaRegistry",
    "clickhouse": "infra.clickhouse.service:ClickHouse",
    "weaviate": "infra.weaviate.service:Weaviate",
    "prometheus": "infra.prometheus.service:Prometheus",
    "zipkin": "infra.zipkin.service:Zipkin",
    "mailpit": "infra.mailpit.service:Mailpit",
    "toxiproxy": "infra.toxiproxy.service:Toxiproxy",
    "s3": "infra.s3.service:S3Proxy",
}

APP_CLASSES = {
    "command-api": "infra.app.services:CommandApi",
    "query-api": "infra.app.services:QueryApi",
    "relay": "infra.app.services:RelayProcess",
    "worker": "infra.app.services:Worker",
    "analytics-worker": "infra.app.services:AnalyticsWorker",
    "workflow-worker": "infra.app.services:WorkflowWorker",
    "assistant-api": "infra.app.services:AssistantApi",
    "console": "infra.app.services:Console",
}


Group = dict[str, str]


def service(name: str, settings: Settings, group: Group = SERVICE_CLASSES) -> Service:
    try:
        module_name, class_name = group[name].split(":")
    except KeyError:
        known = ", ".join(group)
        raise StackError(f"unknown service {name!r}; known services: {known}") from None
    return getattr(import_module(module_name), class_name)(settings)


def services(settings: Settings, names: list[str] | None = None,
             group: Group = SERVICE_CLASSES) -> list[Service]:
    return [service(name, settings, group) for name in (names or list(group))]


def up(settings: Settings, names: list[str] | None = None,
       group: Group = SERVICE_CLASSES) -> list[ServiceStatus]:
    chosen = services(settings, names, group)
    supervisor.up(chosen, timeout=settings.start_timeout)
    return [supervisor.status(s) for s in chosen]


def down(settings: Settings, names: list[str] | None = None, purge: bool = False,
         group: Group = SERVICE_CLASSES) -> list[str]:
    """Stop services in reverse start order; with purge, delete their data too."""
    stopped = []
    for s in reversed(services(settings, names, group)):
        if supervisor.stop(s):
            stopped.append(s.name)
        if purge:
            supervisor.purge(s)
    return stopped


def status(settings: Settings, names: list[str] | None = None,
           group: Group = SERVICE_CLASSES) -> list[ServiceStatus]:
    return [supervisor.status(s) for s in services(settings, names, group)]
