"""Platform gauges read at scrape time (a Prometheus custom collector): where each projection
stands and how far behind, each consumer group's lag in Kafka, dead letters waiting, workflow
states and stuck workflows, the store's head. Exported by the query API's `/metrics`.

Read at scrape time rather than refreshed in a loop: a scrape then shows the state as it is,
and nothing runs when nobody looks. Each source is bounded (connect and statement timeouts)
and a source that fails is counted in `smartcourse_platform_scrape_errors_total` while the
others are still exported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from projections.positions import projection_positions
from smartcourse.settings import Settings

log = logging.getLogger("smartcourse.operations")

SCRAPE_ERRORS = Counter("smartcourse_platform_scrape_errors_total",
                        "Sources of the platform gauges that failed at a scrape", ["source"])

TERMINAL = ("READY", "FAILED", "COMPLETED", "CANCELLED")  # a workflow in no other is running

PROJECTIONS = """
SELECT p.name, p.state, coalesce(extract(epoch FROM now() - min(pp.updated_at)), 0)
FROM read_models.projections p
LEFT JOIN read_models.projection_positions pp ON pp.projection = p.name
GROUP BY p.name, p.state
"""
RELAY = "SELECT name, position FROM event_store.checkpoints"
HEAD = "SELECT coalesce(max(position), 0) FROM event_store.events"
DEAD_LETTERS = """
SELECT projection, count(*) FROM read_models.dead_letters WHERE replayed_at IS NULL
GROUP BY projection
"""
WORKFLOWS = """
SELECT state, count(*), count(*) FILTER (
    WHERE state <> ALL(%(terminal)s) AND updated_at < now() - make_interval(secs => %(stuck)s))
FROM content.workflows GROUP BY state
"""


def lag_of(head: int, position: int) -> int:
    return max(0, head - position)


@dataclass(frozen=True)
class PlatformState:
    """What the platform gauges are made of (also the operator's console's pages)."""

    head: int
    relays: dict[str, int]  # event_store.checkpoints: name -> position
    reached: dict[str, int]  # projection -> position (minimum over its partitions)
    projections: list[tuple[str, str, float]]  # name, state, seconds its laggard stood still
    letters: list[tuple[str, int]]  # projection, dead letters waiting
    workflows: list[tuple[str, int, int]]  # publishing state, count, stuck

    def lag_events(self, projection: str) -> int:
        return lag_of(self.head, self.reached.get(projection, 0))


def read_state(settings: Settings) -> PlatformState:
    """One bounded read of PostgreSQL (psycopg.Error when it cannot be read)."""
    with psycopg.connect(settings.pg_dsn, autocommit=True, connect_timeout=2,
                         options="-c statement_timeout=3000") as conn:
        head = conn.execute(HEAD).fetchone()[0]  # type: ignore[index]
        relays = dict(conn.execute(RELAY).fetchall())
        reached = projection_positions(conn, settings.worker_topic_partitions,
                                       topic_prefix=settings.worker_topic_prefix)
        projections = [(n, s, float(idle)) for n, s, idle in conn.execute(PROJECTIONS)]
        letters = _optional(conn, DEAD_LETTERS)
        workflows = _optional(conn, WORKFLOWS, {
            "terminal": list(TERMINAL), "stuck": settings.stuck_workflow_seconds})
    return PlatformState(head, relays, reached, projections, letters, workflows)


class PlatformCollector(Collector):
    def __init__(self, settings: Settings, consumer_groups: Iterable[str]) -> None:
        self.settings = settings
        self.groups = list(consumer_groups)

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # registering must not read the sources (collect would be called)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        started = time.perf_counter()
        yield from self._postgres()
        yield from self._kafka()
        took = GaugeMetricFamily("smartcourse_platform_scrape_seconds",
                                 "How long reading the platform gauges took at this scrape")
        took.add_metric([], time.perf_counter() - started)
        yield took

    # -- PostgreSQL: positions, lag, dead letters, workflows --------------------------------
    def _postgres(self) -> Iterator[GaugeMetricFamily]:
        try:
            state = read_state(self.settings)
        except psycopg.Error as error:
            SCRAPE_ERRORS.labels("postgres").inc()
            log.error("platform metrics: PostgreSQL unreadable", extra={"reason": str(error)})
            return
        head, relays, reached = state.head, state.relays, state.reached
        projections, letters, workflows = state.projections, state.letters, state.workflows
        yield _gauge("smartcourse_store_head_position", "The event store's last position",
                     [], [([], head)])
        yield _gauge("smartcourse_checkpoint_position",
                     "Positions recorded in event_store.checkpoints (the relay's, by name)",
                     ["name"], [([n], p) for n, p in relays.items()])
        yield _gauge("smartcourse_projection_position",
                     "Each projection's position (the minimum over its partitions)",
                     ["projection"], [([n], reached.get(n, 0)) for n, *_ in projections])
        yield _gauge("smartcourse_projection_lag_events",
                     "Events in the store the projection has not applied",
                     ["projection"], [([n], lag_of(head, reached.get(n, 0)))
                                      for n, *_ in projections])
        yield _gauge("smartcourse_projection_lag_seconds",
                     "How long the projection's laggard partition has not moved while behind"
                     " (0 when caught up): its freshness",
                     ["projection"], [([n], float(idle) if lag_of(head, reached.get(n, 0))
                                       else 0.0) for n, _, idle in projections])
        yield _gauge("smartcourse_projection_rebuilding",
                     "1 while a blue/green rebuild of the projection runs", ["projection"],
                     [([n], 1 if state != "live" else 0) for n, state, _ in projections])
        yield _gauge("smartcourse_dlq_depth", "Dead letters waiting (not replayed)",
                     ["projection"], [([p], c) for p, c in letters])
        yield _gauge("smartcourse_workflows", "Workflows by state", ["workflow", "state"],
                     [(["publishing", s], c) for s, c, _ in workflows])
        yield _gauge("smartcourse_workflows_stuck",
                     "Workflows in a running state that have not moved for longer than "
                     "SMARTCOURSE_STUCK_WORKFLOW_SECONDS", ["workflow"],
                     [(["publishing"], sum(stuck for *_, stuck in workflows))])

    # -- Kafka: consumer group lag ----------------------------------------------------------
    def _kafka(self) -> Iterator[GaugeMetricFamily]:
        try:
            lags = consumer_group_lag(self.settings.kafka_bootstrap, self.groups,
                                      self.settings.worker_topic_prefix)
        except Exception as error:  # noqa: BLE001 - counted; the other gauges still export
            SCRAPE_ERRORS.labels("kafka").inc()
            log.error("platform metrics: Kafka unreadable", extra={"reason": str(error)})
            return
        yield _gauge("smartcourse_consumer_group_lag_messages",
                     "Messages in Kafka not yet committed by the consumer group",
                     ["group", "topic"], [([g, t], lag) for (g, t), lag in lags.items()])


def consumer_group_lag(bootstrap: str, groups: Iterable[str], prefix: str,
                       timeout: float = 3.0) -> dict[tuple[str, str], int]:
    """(group, topic) -> sum over partitions of (log end - committed offset)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [t for t in admin.list_topics(timeout=timeout).topics.values()
              if t.topic.startswith(prefix + ".") and not t.topic.endswith(".dlq")]
    partitions = [TopicPartition(t.topic, p) for t in topics for p in t.partitions]
    if not partitions:
        return {}
    ends = {(tp.topic, tp.partition): result.result(timeout).offset for tp, result in
            admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions},
                               request_timeout=timeout).items()}
    lags: dict[tuple[str, str], int] = {}
    for group in groups:
        request = [ConsumerGroupTopicPartitions(group, partitions)]
        for future in admin.list_consumer_group_offsets(request,
                                                        request_timeout=timeout).values():
            for tp in future.result(timeout).topic_partitions:
                end = ends.get((tp.topic, tp.partition), 0)
                committed = tp.offset if tp.offset >= 0 else 0
                key = (group, tp.topic)
                lags[key] = lags.get(key, 0) + max(0, end - committed)
    return lags


def _optional(conn: psycopg.Connection, query: str, params: Any = None) -> list[Any]:
    """Rows of a table another process creates; none until it exists."""
    try:
        with conn.transaction():
            return conn.execute(query, params).fetchall()
    except psycopg.errors.UndefinedTable:
        return []


def _gauge(name: str, doc: str, labels: list[str],
           samples: Iterable[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family
