"""The stream worker against the real PostgreSQL, Kafka and schema registry, as processes.

Each test runs a whole pipeline of its own: a fresh database (its own event store, relay
checkpoint and read models), topics under its own prefix, a real `smartcourse relay` and a
real `smartcourse worker` (own consumer group). Workers on the shared topics, or other tests'
events, can therefore neither help nor disturb what is asserted. Waits poll a deadline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import psycopg
import pytest
from confluent_kafka.admin import AdminClient

from commands import messages as m
from commands.adapters.relay import RelayConfig
from commands.bus import CommandBus
from projections.registry import PROJECTIONS
from smartcourse.settings import Settings
from tests.support.writer import Writer

pytestmark = pytest.mark.integration

DEADLINE = 240.0
PARTITIONS = 6
T = TypeVar("T")
SMARTCOURSE = Path(sys.executable).with_name("smartcourse")


def wait_until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE,
               interval: float = 0.05) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        threading.Event().wait(interval)


def query(settings: Settings, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        return conn.execute(sql, params or []).fetchall()



class Pipeline:
    """A database, topics, relay and worker of one test's own."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.prefix = f"test-worker-{uuid.uuid4().hex[:12]}"
        self.database = self.prefix.replace("-", "_")
        self.base = settings
        self.settings = Settings(pg_dsn=settings.pg_dsn.rsplit("/", 1)[0] + "/" + self.database)
        self.logs = logs
        self.relay: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.topics = RelayConfig(topic_prefix=self.prefix).topics() + [f"{self.prefix}.dlq"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "SMARTCOURSE_PG_DSN": self.settings.pg_dsn,
                "SMARTCOURSE_WORKER_METRICS_PORT": "0"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SMARTCOURSE), *args], env=self.env(), capture_output=True,
                              text=True, timeout=DEADLINE)

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{self.prefix}-{name}.log").open("ab")
        return subprocess.Popen([str(SMARTCOURSE), *args], env=self.env(), stdout=log,
                                stderr=subprocess.STDOUT)

    def start_relay(self) -> None:
        self.relay = self._spawn("relay", "relay", "--name", self.prefix, "--topic-prefix",
                                 self.prefix, "--poll-interval", "0.2", "--metrics-port", "0")

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", "worker", "--app-id", self.prefix,
                                  "--topic-prefix", self.prefix)

    def kill_worker(self) -> None:
        """kill -9: no chance to finish a batch or commit an offset."""
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        assert self.worker.wait(DEADLINE) == -signal.SIGKILL
        self.worker = None

    def stop_worker(self) -> None:
        assert self.worker is not None
        self.worker.send_signal(signal.SIGTERM)
        assert self.worker.wait(DEADLINE) == 0, self.log("worker")[-3000:]
        self.worker = None

    def log(self, name: str) -> str:
        path = self.logs / f"{self.prefix}-{name}.log"
        return path.read_text() if path.exists() else ""

    def positions(self) -> dict[str, int]:
        """Each projection's position on this pipeline's topics (0 until every partition of
        every topic it reads has reported)."""
        try:
            rows = query(self.settings, "SELECT projection, min(position), count(*)"
                         " FROM read_models.projection_positions WHERE starts_with(topic, %s)"
                         " GROUP BY projection", [self.prefix + "."])
        except psycopg.errors.UndefinedTable:  # the worker has not bootstrapped them yet
            return dict.fromkeys(PROJECTIONS, 0)
        found = {name: position for name, position, count in rows
                 if count == PARTITIONS * len(PROJECTIONS[name].aggregate_types)}
        return {name: found.get(name, 0) for name in PROJECTIONS}

    def wait_for_position(self, position: int, what: str) -> None:
        def reached() -> bool:
            assert self.worker is None or self.worker.poll() is None, self.log("worker")[-3000:]
            return min(self.positions().values()) >= position

        wait_until(reached, what)

    def close(self) -> None:
        for process in (self.worker, self.relay):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(DEADLINE)
        admin = AdminClient({"bootstrap.servers": self.base.kafka_bootstrap})
        existing = set(admin.list_topics(timeout=30).topics)
        doomed = [t for t in self.topics if t in existing]
        for future in (admin.delete_topics(doomed, request_timeout=30).values()
                       if doomed else []):
            future.result(timeout=30)
        shutil.rmtree(self.base.data_dir / "worker" / self.prefix, ignore_errors=True)
        with suppress(Exception):  # the group may have expired already
            admin.delete_consumer_groups([self.prefix], request_timeout=30)[
                self.prefix].result(timeout=30)


@pytest.fixture
def pipeline(stack: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    made = Pipeline(stack, tmp_path)
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {made.database}")
    try:
        yield made
    finally:
        made.close()
        with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {made.database} WITH (FORCE)")


@pytest.fixture
def writer(pipeline: Pipeline) -> Iterator[Writer]:
    w = Writer(pipeline.settings, DEADLINE)  # opening the write side creates the event store
    yield w
    w.close()


# -- scenario ----------------------------------------------------------------------------------
async def courses_with_students(bus: CommandBus, courses: int, students: int) -> list[UUID]:
    """Published courses of three lessons; students enroll and study (a quarter of them to
    the end), and some of the others cancel.
    The courses go side by side, each one's commands in order."""

    async def course() -> UUID:
        teacher = m.Actor(uuid4(), "instructor")
        course_id, module = uuid4(), uuid4()
        lessons = [uuid4() for _ in range(3)]
        await bus.execute(m.CreateCourse(course_id, f"Course {course_id}", capacity=10_000),
                          teacher)
        await bus.execute(m.AddModule(course_id, module, "Basics"), teacher)
        for n, lesson in enumerate(lessons):
            await bus.execute(m.AddLesson(course_id, module, lesson, f"Lesson {n}", "text"),
                              teacher)
        await bus.execute(m.PublishCourse(course_id, uuid4()), teacher)

        async def student(n: int) -> None:
            me = m.Actor(uuid4(), "student")
            enrolled = (await bus.execute(m.EnrollStudent(course_id, me.user_id), me)).aggregate_id
            await bus.execute(m.ActivateEnrollment(enrolled), m.Actor(me.user_id, "system"))
            for lesson in lessons[: n % 4]:
                await bus.execute(m.CompleteLesson(enrolled, lesson), me)
            if n % 5 == 0 and n % 4 < 3:  # a completed enrollment cannot be cancelled
                await bus.execute(m.CancelEnrollment(enrolled, "changed my mind"), me)

        await asyncio.gather(*(student(n) for n in range(students)))
        return course_id

    return list(await asyncio.gather(*(course() for _ in range(courses))))


def version_rows(settings: Settings, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a version schema, rows sorted."""
    tables = [t for (t,) in query(settings, "SELECT table_name FROM information_schema.tables"
                                  " WHERE table_schema = %s", [schema])]
    return {t: sorted(query(settings, f"SELECT * FROM {schema}.{t}"), key=repr) for t in tables}


# -- tests -------------------------------------------------------------------------------------
def test_a_worker_killed_again_and_again_ends_as_a_replay_from_the_store(
    pipeline: Pipeline, writer: Writer
) -> None:
    """kill -9 the worker while it works through thousands of events, and while more are
    appended; after restarts its read models equal a blue/green replay from the event store,
    table by table, and nothing went to the dead letters."""
    pipeline.start_relay()
    writer.run(courses_with_students(writer.bus, courses=30, students=25))  # ~3,900 events
    backlog = writer.head()
    assert backlog > 3_000

    reached = 0
    for _ in range(3):  # killed while catching up with the backlog
        pipeline.start_worker()
        before = reached
        wait_until(lambda before=before: min(pipeline.positions().values()) > before,
                   "the worker to apply more")
        pipeline.kill_worker()
        reached = min(pipeline.positions().values())
    assert reached < backlog, "the backlog ran out before the last kill; make it larger"

    pipeline.start_worker()
    live = writer.submit(courses_with_students(writer.bus, courses=10, students=25))
    wait_until(lambda: min(pipeline.positions().values()) > backlog, "events appended live")
    pipeline.kill_worker()  # while the appends go on
    live.result(DEADLINE)
    pipeline.start_worker()
    head = writer.head()
    pipeline.wait_for_position(head, "the restarted worker to catch up")
    pipeline.stop_worker()
    assert '"dead letter"' not in pipeline.log("worker")
    assert query(pipeline.settings, "SELECT count(*) FROM read_models.dead_letters") == [(0,)]

    replayed = pipeline.cli("replay", "all")
    assert replayed.returncode == 0, replayed.stderr
    empty = set()
    for name, projection in PROJECTIONS.items():
        (live_version,) = query(pipeline.settings, "SELECT live_version FROM"
                                " read_models.projections WHERE name = %s", [name])[0]
        assert live_version == 2
        by_worker = version_rows(pipeline.settings, projection.schema(1))
        by_replay = version_rows(pipeline.settings, projection.schema(2))
        assert by_worker.keys() == by_replay.keys()
        if not any(rows for table, rows in by_worker.items() if table not in ("applied",
                                                                                 "parked")):
            empty.add(name)
        for table, rows in by_replay.items():
            assert by_worker[table] == rows, f"{name}.{table} differs from the replay"
    # The writer's students (straight through the bus: no accounts) take no quizzes and earn
    # no certificates, and no instructor drafts study material; every other projection holds
    # what the comparison above compared.
    assert empty <= {"user_profiles", "quiz_attempts", "certificates", "enhancement_drafts"}, \
        empty
    assert "course_catalog" not in empty and "audit_log" not in empty
