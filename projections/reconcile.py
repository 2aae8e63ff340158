"""Reconciliation: do the stores agree with the event store about every enrollment?

The event store is the truth. For each store that projects enrollments — the read models
`student_enrollments`, `course_roster` and `enrollment_progress` in PostgreSQL, and the
ClickHouse fact table — the enrollments' state, progress and event counts are compared with
what the store's events say, up to the position the store has reached (so lag is not
drift). The report gives counts and examples per store and kind of drift; `repair` replays
the affected aggregates' histories into the PostgreSQL read models (their rows rewritten
under the version rule) and inserts the events ClickHouse lacks (its fact table collapses
repeats by event id; only missing events are inserted, so its views count each once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prometheus_client import Gauge
from psycopg import AsyncConnection

from commands.adapters.event_store import COLUMNS, StoredEvent
from projections.deliveries import EventDelivery
from projections.positions import aprojection_positions
from projections.registry import get
from projections.sink import PostgresProjector

DRIFT = Gauge("smartcourse_reconcile_drift", "Enrollments whose stores disagree with the "
              "event store at the last reconciliation, by store and kind", ["store", "kind"])

STATE_EVENTS = ("enrollment.created", "enrollment.activated", "enrollment.completed",
                "enrollment.cancelled")
STATE_OF = {"enrollment.created": "PENDING", "enrollment.activated": "ACTIVE",
            "enrollment.completed": "COMPLETED", "enrollment.cancelled": "CANCELLED"}
STEP_STATE = {"RECORDED": "PENDING", "PROGRESS_INITIALISED": "PENDING", "ACTIVE": "ACTIVE",
              "COMPLETED": "COMPLETED", "CANCELLED": "CANCELLED"}
TRUTH = """
SELECT aggregate_id,
       (array_agg(event_type ORDER BY version DESC)
            FILTER (WHERE event_type = ANY(%(states)s)))[1],
       count(*) FILTER (WHERE event_type = 'enrollment.progressed'),
       count(*)
FROM event_store.events
WHERE aggregate_type = 'enrollment' AND position <= %(upto)s
GROUP BY aggregate_id
"""
# The read models reconciled, each with the tables that hold one row set per enrollment and
# the query giving (id, state, completed lessons) from what the query API reads.
READ_MODELS: dict[str, tuple[tuple[str, ...], str]] = {
    "student_enrollments": (("student_enrollments",), """
        SELECT enrollment_id, state, cardinality(completed_lessons)
        FROM read_models.student_enrollments"""),
    "course_roster": (("course_roster", "roster_quiz_scores"), """
        SELECT enrollment_id, state, completed_count FROM read_models.course_roster"""),
    "enrollment_progress": (("enrollment_progress", "enrollment_lessons"), """
        SELECT p.enrollment_id, p.step, (SELECT count(*) FROM read_models.enrollment_lessons l
            WHERE l.enrollment_id = p.enrollment_id AND l.status = 'COMPLETED')
        FROM read_models.enrollment_progress p"""),
}


@dataclass
class Drift:
    store: str
    kind: str  # missing | unexpected | state | progress | events
    ids: list[UUID] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.ids)


@dataclass
class Report:
    checked: dict[str, int] = field(default_factory=dict)  # store -> enrollments compared
    drifts: list[Drift] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(d.count for d in self.drifts)

    def lines(self, examples: int = 5) -> list[str]:
        out = [f"{store}: {n} enrollments compared" for store, n in self.checked.items()]
        for d in self.drifts:
            shown = ", ".join(str(i) for i in d.ids[:examples])
            out.append(f"DRIFT {d.store} {d.kind}: {d.count} (e.g. {shown})")
        for store, n in self.repaired.items():
            out.append(f"repaired {store}: {n} enrollments replayed")
        out.append(f"drift total: {self.total}")
        return out


Truth = dict[UUID, tuple[str, int, int]]  # id -> (state, lessons completed, events)


async def _truth(conn: AsyncConnection, upto: int) -> Truth:
    rows = await (await conn.execute(TRUTH, {"states": list(STATE_EVENTS), "upto": upto})
                  ).fetchall()
    return {r[0]: (STATE_OF.get(r[1], "PENDING"), int(r[2]), int(r[3])) for r in rows}


def compare(store: str, truth: Truth, seen: dict[UUID, tuple[str, int]]) -> list[Drift]:
    """Pure: the drifts between what the events say and what a store holds."""
    missing = Drift(store, "missing", sorted(set(truth) - set(seen)))
    unexpected = Drift(store, "unexpected", sorted(set(seen) - set(truth)))
    state = Drift(store, "state", sorted(i for i in set(truth) & set(seen)
                                         if truth[i][0] != seen[i][0]))
    progress = Drift(store, "progress", sorted(i for i in set(truth) & set(seen)
                                               if truth[i][1] != seen[i][1]))
    return [d for d in (missing, unexpected, state, progress) if d.ids]


async def _history(conn: AsyncConnection, ids: Iterable[UUID]) -> list[StoredEvent]:
    cur = await conn.execute(f"SELECT {COLUMNS} FROM event_store.events"
                             " WHERE aggregate_id = ANY(%s) ORDER BY position", [list(ids)])
    return [StoredEvent(*row) for row in await cur.fetchall()]


async def reconcile_read_models(conn: AsyncConnection, repair: bool, report: Report,
                                topic_prefix: str, partitions: int) -> None:
    positions = await aprojection_positions(conn, partitions, topic_prefix=topic_prefix)
    for name, (tables, query) in READ_MODELS.items():
        upto = positions.get(name, 0)
        truth = await _truth(conn, upto)
        rows = await (await conn.execute(query)).fetchall()
        # Rows of enrollments created past the projection's position are not drift.
        seen = {r[0]: (STEP_STATE.get(r[1], r[1]), int(r[2])) for r in rows}
        late = await (await conn.execute(
            "SELECT aggregate_id FROM event_store.events WHERE aggregate_type = 'enrollment'"
            " AND event_type = 'enrollment.created' AND position > %s", [upto])).fetchall()
        for (late_id,) in late:
            seen.pop(late_id, None)
        found = compare(name, truth, seen)
        report.checked[name] = len(truth)
        report.drifts += found
        if repair and found:
            ids = sorted({i for d in found for i in d.ids})
            deliveries = [EventDelivery(e) for e in await _history(conn, ids)]
            await PostgresProjector(get(name)).rebuild_aggregates(conn, tables, deliveries)
            report.repaired[name] = len(ids)


def reconcile_clickhouse(client: Any, database: str, sink: str, truth_of: Any, repair: bool,
                         report: Report, history_of: Any) -> None:
    """ClickHouse's fact table against the store, up to the lowest position it checkpointed."""
    from projections.analytics.rows import to_row
    from projections.analytics.schema import live_version, version_database
    from projections.analytics.sink import read_checkpoints

    reached = read_checkpoints(client, database, sink)
    upto = min(reached.values(), default=0)
    truth: Truth = truth_of(upto)
    facts = f"{version_database(database, live_version(client, database))}.events"
    rows = client.query(
        f"SELECT aggregate_id, count() FROM {facts} FINAL WHERE aggregate_type ="
        " 'enrollment' AND position <= {upto:UInt64} GROUP BY aggregate_id",
        parameters={"upto": upto}).result_rows
    seen = {UUID(str(r[0])): int(r[1]) for r in rows}
    short = Drift("clickhouse", "events", sorted(i for i, t in truth.items()
                                                if seen.get(i, 0) != t[2]))
    report.checked["clickhouse"] = len(truth)
    if short.ids:
        report.drifts.append(short)
    if repair and short.ids:
        have = {UUID(str(r[0])) for r in client.query(
            f"SELECT event_id FROM {facts} FINAL WHERE aggregate_id IN"
            " {ids:Array(UUID)}", parameters={"ids": short.ids}).result_rows}
        missing = [to_row(e) for e in history_of(short.ids)
                   if e.event_id not in have and e.position <= upto]
        if missing:
            from projections.analytics.rows import COLUMNS as FACT_COLUMNS

            client.insert(facts, missing, column_names=FACT_COLUMNS)
        report.repaired["clickhouse"] = len(short.ids)


def publish_metric(report: Report) -> None:
    for store in report.checked:
        for kind in ("missing", "unexpected", "state", "progress", "events"):
            DRIFT.labels(store, kind).set(sum(d.count for d in report.drifts
                                              if d.store == store and d.kind == kind))


async def reconcile(settings: Any, repair: bool = False, clickhouse: bool = True) -> Report:
    """Every store against the event store; with `repair`, replay the drifted aggregates."""
    import asyncio

    report = Report()
    async with await AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
        await reconcile_read_models(conn, repair, report, settings.worker_topic_prefix,
                                    settings.worker_topic_partitions)
        if clickhouse:
            from projections.analytics.clients import writer_client

            loop = asyncio.get_running_loop()

            def truth_of(upto: int) -> Truth:
                return asyncio.run_coroutine_threadsafe(_truth(conn, upto), loop).result()

            def history_of(ids: list[UUID]) -> list[StoredEvent]:
                return asyncio.run_coroutine_threadsafe(_history(conn, ids), loop).result()

            client = writer_client(settings)
            try:
                await asyncio.to_thread(reconcile_clickhouse, client,
                                        settings.analytics_database, "analytics", truth_of,
                                        repair, report, history_of)
            finally:
                client.close()
    publish_metric(report)
    return report
