"""What the console's pages show, read from the live platform: the processes' readiness, the
stack's services, projection positions and lag (the same reads as the platform gauges),
throughput, dead letters, workflows, recent errors in the logs, analytics trends.

Every read is bounded; a source that cannot be read is shown as such on its page (never as
an empty table that looks healthy)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from psycopg import AsyncConnection

from operations.platform_metrics import PlatformState, consumer_group_lag, read_state
from smartcourse.settings import Settings

ERROR_LEVELS = ("error", "critical", "warning")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


# -- health ---------------------------------------------------------------------------------
@dataclass
class Health:
    name: str
    kind: str  # "process" (an app process's /health/ready) or "service" (the stack's)
    endpoint: str
    ready: bool
    detail: str


async def process_health(settings: Settings, client: httpx.AsyncClient) -> list[Health]:
    """Every process `smartcourse app` supervises, asked for its readiness."""
    from infra.stack import APP_CLASSES, services

    async def ask(process: Any) -> Health:
        url = f"http://{settings.host}:{process.port}{process.health_path}"
        try:
            reply = await client.get(url, timeout=3)
        except httpx.HTTPError as error:
            return Health(process.name, "process", url, False, f"unreachable: {error!r}")
        return Health(process.name, "process", url, reply.status_code == 200,
                      f"{reply.status_code} {reply.text[:400]}")

    return list(await asyncio.gather(*(ask(p) for p in services(settings, None, APP_CLASSES))))


async def service_health(settings: Settings) -> list[Health]:
    """The stack's services (PostgreSQL, Kafka, …), each by its own health request."""
    from infra.stack import services

    def ask(service: Any) -> Health:
        endpoint = ", ".join(f"{k}={v}" for k, v in service.ports().items())
        try:
            ok = bool(service.healthy())
            return Health(service.name, "service", endpoint, ok, "answers" if ok else "no")
        except Exception as error:  # noqa: BLE001 - shown: the service does not answer
            return Health(service.name, "service", endpoint, False, f"{type(error).__name__}")

    chosen = services(settings)
    return list(await asyncio.gather(*(asyncio.to_thread(ask, s) for s in chosen)))


# -- projections ------------------------------------------------------------------------------
@dataclass
class Positions:
    state: PlatformState
    consumer_lag: dict[tuple[str, str], int] | None  # None: Kafka could not be read
    kafka_error: str = ""


async def positions(settings: Settings) -> Positions:
    state = await asyncio.to_thread(read_state, settings)
    groups = (settings.worker_app_id, settings.analytics_worker_app_id,
              settings.workflow_worker_app_id)
    try:
        lag = await asyncio.to_thread(consumer_group_lag, settings.kafka_bootstrap, groups,
                                      settings.worker_topic_prefix)
        return Positions(state, lag)
    except Exception as error:  # noqa: BLE001 - shown on the page
        return Positions(state, None, f"{type(error).__name__}: {error}")


# -- throughput -------------------------------------------------------------------------------
PER_MINUTE = """
SELECT date_trunc('minute', occurred_at) AS minute, count(*)
FROM event_store.events WHERE occurred_at > now() - make_interval(mins => %s)
GROUP BY minute ORDER BY minute
"""
BY_TYPE = """
SELECT event_type, count(*) FROM event_store.events
WHERE occurred_at > now() - make_interval(mins => %s) GROUP BY event_type ORDER BY 2 DESC
"""


@dataclass
class Throughput:
    minutes: list[tuple[datetime, int]]
    by_type: list[tuple[str, int]]
    request_rates: list[tuple[str, float]] | None  # (api, requests/s) from Prometheus
    prometheus_error: str = ""


async def throughput(conn: AsyncConnection, settings: Settings, client: httpx.AsyncClient,
                     window_minutes: int = 60) -> Throughput:
    """Events appended per minute (the store), by type over the window, and each API's
    request rate over the last minute (Prometheus)."""
    minutes = await (await conn.execute(PER_MINUTE, [window_minutes])).fetchall()
    by_type = await (await conn.execute(BY_TYPE, [window_minutes])).fetchall()
    rates, problem = None, ""
    try:
        reply = await client.get(
            f"http://{settings.host}:{settings.prometheus_port}/api/v1/query",
            params={"query": "sum by (api) (rate(smartcourse_http_requests_total[1m]))"},
            timeout=3)
        reply.raise_for_status()
        rates = [(r["metric"].get("api", "?"), float(r["value"][1]))
                 for r in reply.json()["data"]["result"]]
    except (httpx.HTTPError, KeyError, ValueError) as error:
        problem = f"Prometheus: {error!r}"
    return Throughput(list(minutes), list(by_type), rates, problem)


# -- workflows --------------------------------------------------------------------------------
@dataclass
class WorkflowRow:
    kind: str  # publishing | enrollment
    id: UUID
    course_id: UUID | None
    state: str
    updated_at: datetime
    stuck: bool
    error: str | None = None


PUBLISHING = """
SELECT workflow_id, course_id, state, updated_at, error,
       state <> ALL(%(terminal)s) AND updated_at < now() - make_interval(secs => %(stuck)s)
FROM content.workflows WHERE (%(state)s::text IS NULL OR state = %(state)s)
ORDER BY updated_at DESC LIMIT %(limit)s
"""
# The enrollment workflow's state is the enrollment's own history: its last event says
# which step it waits for. Waiting on the workflow: created (progress not initialised yet)
# and progress_initialised (not activated yet).
ENROLLMENT = """
SELECT aggregate_id, (payload->>'course_id')::uuid, state, occurred_at, NULL,
       state = ANY(%(waiting)s) AND occurred_at < now() - make_interval(secs => %(stuck)s)
FROM (SELECT DISTINCT ON (aggregate_id) aggregate_id, event_type AS state, occurred_at,
             first_value(payload) OVER (PARTITION BY aggregate_id ORDER BY version) AS payload
      FROM event_store.events WHERE aggregate_type = 'enrollment'
      ORDER BY aggregate_id, version DESC) last
WHERE (%(state)s::text IS NULL OR state = %(state)s)
ORDER BY occurred_at DESC LIMIT %(limit)s
"""
ENROLLMENT_WAITING = ["enrollment.created", "enrollment.progress_initialised"]


async def workflows(conn: AsyncConnection, settings: Settings, kind: str | None,
                    state: str | None, stuck_only: bool, limit: int = 200) -> list[WorkflowRow]:
    from operations.platform_metrics import TERMINAL

    rows: list[WorkflowRow] = []
    params = {"terminal": list(TERMINAL), "stuck": settings.stuck_workflow_seconds,
              "state": state or None, "limit": limit, "waiting": ENROLLMENT_WAITING}
    for name, sql in (("publishing", PUBLISHING), ("enrollment", ENROLLMENT)):
        if kind and kind != name:
            continue
        async with conn.transaction():
            try:
                cur = await conn.execute(sql, params)
            except Exception as error:  # noqa: BLE001 - the table is another process's
                if type(error).__name__ == "UndefinedTable":
                    continue
                raise
            rows += [WorkflowRow(name, *row[:4], stuck=bool(row[5]), error=row[4])
                     for row in await cur.fetchall()]
    return [r for r in rows if r.stuck or not stuck_only]


# -- recent errors ----------------------------------------------------------------------------
@dataclass
class LogError:
    process: str
    ts: str
    level: str
    logger: str
    message: str
    trace_id: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def recent_errors(log_dir: Path, names: list[str], limit: int = 100,
                  levels: tuple[str, ...] = ERROR_LEVELS, tail_bytes: int = 2_000_000
                  ) -> list[LogError]:
    """The last warnings and errors in the processes' JSON logs, newest first."""
    found: list[LogError] = []
    for name in names:
        path = log_dir / f"{name}.log"
        if not path.exists():
            continue
        kept: deque[LogError] = deque(maxlen=limit)
        with path.open("rb") as handle:
            size = path.stat().st_size
            handle.seek(max(0, size - tail_bytes))
            for raw in handle:
                entry = parse_line(name, raw.decode(errors="replace"), levels)
                if entry is not None:
                    kept.append(entry)
        found += kept
    found.sort(key=lambda e: e.ts, reverse=True)
    return found[:limit]


def parse_line(process: str, line: str, levels: tuple[str, ...]) -> LogError | None:
    """A JSON log line at one of `levels`, or None (other levels, plain text)."""
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    level = str(record.get("level", "")).lower()
    if level not in levels:
        return None
    trace = record.get("trace_id")
    trace = trace if isinstance(trace, str) and TRACE_ID.match(trace) else None
    extra = {k: v for k, v in record.items()
             if k not in ("ts", "level", "logger", "message", "trace_id", "color_message")}
    return LogError(process, str(record.get("ts", "")), level, str(record.get("logger", "")),
                    str(record.get("message", ""))[:500], trace, extra)


# -- analytics --------------------------------------------------------------------------------
@dataclass
class Analytics:
    days: list[tuple[date, int, int]]  # day, enrollments, completions (whole platform)
    anomalies: list[Any]  # EnrollmentAnomaly of every course with enrollments, flagged first


def analytics(settings: Settings, last: date, span_days: int = 30) -> Analytics:
    """Platform-wide enrollments and completions per day, and each course's enrollments on
    `last` against its trailing band (ClickHouse, as the analyst account)."""
    from projections.analytics.clients import analyst_client
    from projections.analytics.trends import IDENTIFIER, enrollment_anomalies

    db = settings.analytics_database
    if not IDENTIFIER.fullmatch(db):
        raise ValueError(f"not a database name: {db!r}")

    first = last - timedelta(days=span_days - 1)
    client = analyst_client(settings)
    try:
        rows = client.query(f"""
            SELECT day, sum(e), sum(c) FROM (
                SELECT day, enrollments AS e, toUInt64(0) AS c
                FROM {db}.enrollments_per_course_day
                WHERE day BETWEEN {{start:Date}} AND {{end:Date}}
                UNION ALL
                SELECT day, toUInt64(0), completions FROM {db}.completions_per_course_day
                WHERE day BETWEEN {{start:Date}} AND {{end:Date}})
            GROUP BY day""", parameters={"start": first, "end": last}).result_rows
        assessed = enrollment_anomalies(client, last, flagged_only=False, database=db)
    finally:
        client.close()
    found = {d: (int(e), int(c)) for d, e, c in rows}
    days = [(first + timedelta(days=n), *found.get(first + timedelta(days=n), (0, 0)))
            for n in range(span_days)]
    assessed.sort(key=lambda a: (not a.is_anomaly, -a.enrollments))
    return Analytics(days, assessed)
