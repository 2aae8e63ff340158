"""`smartcourse relay`: run the outbox relay (event store -> Kafka) until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from smartcourse.observability import configure_logging
from smartcourse.settings import Settings


def relay(
    name: Annotated[str, typer.Option(help="Checkpoint name; one active relay per name.")] = (
        "kafka-relay"),
    topic_prefix: Annotated[str, typer.Option(help="Topics are PREFIX.<aggregate type>.")] = (
        "smartcourse"),
    batch_size: Annotated[int, typer.Option(min=1)] = 2_000,
    from_position: Annotated[int, typer.Option(
        help="Where a relay without a checkpoint starts: after this global position.")] = 0,
    partitions: Annotated[int, typer.Option(
        min=1, envvar="SMARTCOURSE_RELAY_PARTITIONS", help="For topics created at start.")] = 6,
    replication_factor: Annotated[int, typer.Option(
        min=1, envvar="SMARTCOURSE_RELAY_REPLICATION_FACTOR",
        help="For topics created at start (the local broker has one node).")] = 1,
    poll_interval: Annotated[float, typer.Option(
        help="Seconds between polls when no NOTIFY arrives.")] = 1.0,
    metrics_port: Annotated[int | None, typer.Option(
        help="Prometheus port (default: settings.relay_metrics_port; 0: none).")] = None,
    log_level: Annotated[str, typer.Option()] = "info",
) -> None:
    """Publish every event of the store to Kafka, in the store's order, at least once."""
    from confluent_kafka import KafkaException
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from psycopg import Error as PostgresError

    from commands.adapters.relay import Relay, RelayConfig
    from smartcourse.observability import dependencies as deps
    from smartcourse.observability.health import DegradedModes, check_sync
    from smartcourse.observability.heartbeat import Heartbeat
    from smartcourse.observability.probes import start_probe_server
    from smartcourse.observability.tracing import configure_tracing

    configure_logging(log_level)
    settings = Settings()
    configure_tracing(settings, "relay")
    heartbeat = Heartbeat(settings.heartbeat_stall_seconds)
    runner = Relay(settings, RelayConfig(
        name=name, topic_prefix=topic_prefix, batch_size=batch_size, start_after=from_position,
        partitions=partitions, replication_factor=replication_factor,
        poll_interval=poll_interval, marker_interval=settings.relay_marker_interval,
    ), beat=heartbeat.beat)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: runner.stop())
    port = settings.relay_metrics_port if metrics_port is None else metrics_port
    started = threading.Event()

    def relaying() -> None:
        if not started.is_set():
            raise RuntimeError("not relaying yet (standby, or still starting)")

    checks = {"postgres": lambda: deps.postgres(settings.pg_dsn),
              "kafka": lambda: deps.kafka(settings.kafka_bootstrap),
              "registry": lambda: deps.registry(settings.registry_url), "relay": relaying}
    if port:
        start_probe_server(settings.host, port, lambda: check_sync(checks, DegradedModes()),
                           heartbeat.stalled)
    try:
        runner.run(ready=started.set)
    except (PostgresError, KafkaException, SchemaRegistryError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        typer.echo(f"error: relay: {reason}", err=True)
        raise typer.Exit(1) from error
