"""The services of the local stack, in start order, and the operations over all of them."""

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
}


def service(name: str, settings: Settings) -> Service:
    try:
        module_name, class_name = SERVICE_CLASSES[name].split(":")
    except KeyError:
        known = ", ".join(SERVICE_CLASSES)
        raise StackError(f"unknown service {name!r}; known services: {known}") from None
    return getattr(import_module(module_name), class_name)(settings)


def services(settings: Settings, names: list[str] | None = None) -> list[Service]:
    return [service(name, settings) for name in (names or list(SERVICE_CLASSES))]


def up(settings: Settings, names: list[str] | None = None) -> list[ServiceStatus]:
    chosen = services(settings, names)
    supervisor.up(chosen, timeout=settings.start_timeout)
    return [supervisor.status(s) for s in chosen]


def down(settings: Settings, names: list[str] | None = None, purge: bool = False) -> list[str]:
    """Stop services in reverse start order; with purge, delete their data too."""
    stopped = []
    for s in reversed(services(settings, names)):
        if supervisor.stop(s):
            stopped.append(s.name)
        if purge:
            supervisor.purge(s)
    return stopped


def status(settings: Settings, names: list[str] | None = None) -> list[ServiceStatus]:
    return [supervisor.status(s) for s in services(settings, names)]
