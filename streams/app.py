"""The Faust app, declared once: `smartcourse worker` and `faust -A streams.app worker` run it.

Agents live in `streams/agents/` and are found by autodiscovery. The app reads its settings
(SMARTCOURSE_* variables) when imported but connects to nothing until the worker starts:
then it creates the topics it reads if the relay has not yet (so the broker's auto-create
cannot give them the wrong partition count) and serves its metrics on loopback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from aiokafka.codec import has_lz4

from commands.adapters.relay import ensure_topics
from smartcourse.observability import dependencies as deps
from smartcourse.observability.health import DegradedModes, Readiness, check_sync
from smartcourse.observability.heartbeat import Heartbeat
from smartcourse.observability.probes import start_probe_server
from smartcourse.observability.tracing import configure_tracing
from smartcourse.runtime import tune_garbage_collector
from smartcourse.settings import Settings

log = logging.getLogger("smartcourse.worker")

settings = Settings()

# Faust's own logging set-up, with every line as one JSON object (as every process logs).
LOGGING: dict[str, Any] = {
    "version": 1,
    "merge": True,  # keep the level Faust derives from `-l`, replace its handler
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "smartcourse.observability.JsonFormatter"}},
    "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json",
                             "stream": "ext://sys.stderr"}},
    "loggers": {
        "mode.timers": {"level": "WARNING"},  # a line per late timer: the loop is busy
        "httpx": {"level": "WARNING"},  # a line per registry call
        "httpx2": {"level": "WARNING"},
    },
}


def broker_urls(bootstrap: str) -> list[str]:
    """`host:port,host:port` (as librdkafka takes it) in Faust's URL form."""
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


# Degraded modes of this worker (none yet beyond its dependencies: a batch that cannot be
# applied is retried, never skipped, and shows as lag).
modes = DegradedModes()
heartbeat = Heartbeat(settings.heartbeat_stall_seconds)  # beaten by a timer on the event loop


def readiness() -> Readiness:
    """Ready when what the enabled agents need answers."""
    checks = {"kafka": lambda: deps.kafka(settings.kafka_bootstrap),
              "registry": lambda: deps.registry(settings.registry_url)}
    if (settings.worker_projections or settings.workflow_publishing
            or settings.workflow_enrollment):
        checks["postgres"] = lambda: deps.postgres(settings.pg_dsn)
    if settings.worker_analytics:
        checks["clickhouse"] = lambda: deps.clickhouse(settings.clickhouse_url)
    return check_sync(checks, modes)


async def rebuild_stale_projections() -> None:
    """A release that changed a projection's tables rebuilds it from the store before the
    agents apply anything to it (not ready meanwhile: the reads would miss columns)."""
    from projections.registry import PROJECTIONS
    from projections.replay import rebuild_stale

    modes.enter("rebuilding", "rebuilding projections whose tables this release changed")
    try:
        for outcome in await rebuild_stale(settings.pg_dsn, PROJECTIONS.values()):
            log.warning("projection rebuilt for this release", extra={
                "projection": outcome.projection, "version": outcome.version,
                "events": outcome.events, "seconds": round(outcome.seconds, 1)})
    finally:
        modes.leave("rebuilding")


class ProjectionsApp(faust.App):
    """The app, plus what must happen once before its consumer subscribes."""

    async def on_first_start(self) -> None:
        self.conf.datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust makes one level
        await super().on_first_start()
        if not has_lz4():  # the relay compresses with lz4; without it every fetch fails
            raise RuntimeError("aiokafka cannot read lz4: install aiokafka[lz4] (cramjam)")
        from streams.topics import declared_topic_names

        await asyncio.to_thread(ensure_topics, settings.kafka_bootstrap,
                                declared_topic_names(), settings.worker_topic_partitions, 1)
        if settings.worker_metrics_port:
            start_probe_server(settings.host, settings.worker_metrics_port, readiness,
                               heartbeat.stalled)
        if settings.worker_projections:
            await rebuild_stale_projections()
        configure_tracing(settings, settings.worker_app_id)
        tune_garbage_collector(settings.gc_thresholds)
        log.info("worker starting", extra={
            "app_id": settings.worker_app_id, "prefix": settings.worker_topic_prefix,
            "metrics_port": settings.worker_metrics_port})


app = ProjectionsApp(
    settings.worker_app_id,
    broker=broker_urls(settings.kafka_bootstrap),
    store="memory://",
    datadir=str(settings.data_dir / "worker" / "{conf.name}"),  # not the working directory
    autodiscover=["streams.agents"],
    origin="streams",
    web_enabled=False,
    topic_disable_leader=True,  # no internal leader topic: the agents need no leader
    consumer_auto_offset_reset="earliest",  # a new group starts at the first event
    broker_commit_interval=1.0,  # acked offsets reach Kafka within a second
    # Stopping or rebalancing need not wait for buffered messages to be handled: only acked
    # (committed to PostgreSQL) offsets are committed, the rest comes again, idempotently.
    stream_wait_empty=False,
    broker_session_timeout=settings.worker_session_timeout,
    broker_heartbeat_interval=min(3.0, settings.worker_session_timeout / 3),
    logging_config=LOGGING,
)


@app.timer(interval=1.0)
async def beat() -> None:
    """The event loop goes round: /health/live stays 200 (a wedged loop stops this)."""
    heartbeat.beat()
