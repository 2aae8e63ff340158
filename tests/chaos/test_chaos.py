"""Faults one at a time under load, then the invariants and the time to recover.

Each case: the app runs supervised (`smartcourse app up`: keepers restart what dies); a load
of enrollments, activations and lesson completions runs against freshly published courses
while one fault is injected; then, once the platform has recovered, the invariants are
checked against the store. Recovery time: from the fault's end until a new command is
answered and visible through the query API (read-your-writes). Every case appends a row to
`.data/chaos/report.jsonl` (docs/reliability.md holds a table of a run).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from smartcourse.local_servers import serve
from smartcourse.settings import Settings
from tests.chaos import faults, invariants
from tests.chaos.conftest import ChaosScale
from tests.chaos.load import Load
from tests.chaos.toxiproxy import Toxiproxy
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.e2e
DEADLINE = 240.0

FULL = dict(full_only=True)
FAULTS = [
    faults.kill("command-api"), faults.kill("relay"), faults.kill("worker"),
    faults.kill("analytics-worker"), faults.freeze("relay"),
    faults.rebalance("worker"), replace(faults.rebalance("analytics-worker"), **FULL),
    replace(faults.freeze("worker"), **FULL), replace(faults.freeze("command-api"), **FULL),
    faults.restart("kafka"), faults.restart("redis"),
    faults.restart("postgres", signal.SIGINT, " (fast)"),
    replace(faults.restart("postgres", signal.SIGQUIT, " (immediate)"), **FULL),
    replace(faults.restart("clickhouse"), **FULL), replace(faults.restart("weaviate"), **FULL),
    faults.network("latency", "postgres", latency=1000),
    faults.network("reset_peer", "postgres", timeout=0),
    replace(faults.network("timeout", "postgres", timeout=0), **FULL),
    faults.network("partition", "postgres"),
]


def base(settings: Settings, port: int) -> str:
    return f"http://{settings.host}:{port}"


def recovered_in(settings: Settings, since: float, command_api: str) -> float:
    """Seconds from `since` until a new course is answered and visible in the query API."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        try:
            instructor = CommandClient(command_api, role="instructor")
            created = instructor.post("/courses", {"title": "probe"})
            if created.status_code == 201:
                token = created.json()["position"]
                seen = httpx.get(
                    f"{base(settings, settings.query_api_port)}/courses/"
                    f"{created.json()['course_id']}", timeout=10,
                    headers={**instructor.headers, "X-Consistency-Token": str(token)})
                if seen.status_code == 200:
                    return time.monotonic() - since
        except (httpx.HTTPError, AssertionError):
            pass
        threading.Event().wait(0.2)
    raise AssertionError("the platform did not recover")


def roster(settings: Settings, load: Load) -> dict[str, tuple[str, int]]:
    assert load.instructor is not None
    head = invariants.rows(settings, "SELECT coalesce(max(position), 0) FROM"
                           " event_store.events", [])[0][0]
    found: dict[str, tuple[str, int]] = {}
    for course_id, _, _ in load.courses:
        cursor = None
        while True:
            reply = httpx.get(
                f"{base(settings, settings.query_api_port)}/courses/{course_id}/roster",
                params={"limit": 100, **({"cursor": cursor} if cursor else {})}, timeout=30,
                headers={**load.instructor.headers, "X-Consistency-Token": str(head)})
            assert reply.status_code == 200, reply.text
            for item in reply.json()["items"]:
                found[item["enrollment_id"]] = (item["state"], item["completed_count"])
            cursor = reply.json().get("next_cursor")
            if not cursor:
                break
    return found


def eventually(check: Any, deadline: float = DEADLINE) -> list[str]:
    end = time.monotonic() + deadline
    while True:
        problems = check()
        if not problems or time.monotonic() > end:
            return problems
        threading.Event().wait(1)


def report(settings: Settings, row: dict[str, Any]) -> None:
    out = settings.data_dir / "chaos" / "report.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")


@pytest.fixture(scope="package")
def proxied_command_api(app_processes: Settings, tmp_path_factory: pytest.TempPathFactory,
                        ) -> Iterator[str]:
    """A command API of the suite's own whose PostgreSQL link passes Toxiproxy (proxy
    `postgres`), for the network faults."""
    s = app_processes
    toxiproxy = Toxiproxy(s.host, s.toxiproxy_port)
    listen = s.chaos_proxy_base_port
    toxiproxy.proxy("postgres", f"{s.host}:{listen}", f"{s.host}:{s.pg_port}")
    previous = os.environ.get("SMARTCOURSE_PG_PORT")
    os.environ["SMARTCOURSE_PG_PORT"] = str(listen)
    try:
        with serve("command-api", s, tmp_path_factory.mktemp("proxied")) as url:
            os.environ["SMARTCOURSE_PG_PORT"] = previous or str(s.pg_port)
            yield url
    finally:
        os.environ["SMARTCOURSE_PG_PORT"] = previous or str(s.pg_port)
        toxiproxy.delete("postgres")


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_the_platform_keeps_its_invariants_through(fault: faults.Fault, app_processes: Settings,
                                                   chaos_scale: ChaosScale,
                                                   request: pytest.FixtureRequest) -> None:
    if fault.full_only and chaos_scale.name == "small":
        pytest.skip("full scale only (smartcourse chaos run --scale full)")
    settings = app_processes
    command_api = (request.getfixturevalue("proxied_command_api") if fault.proxied
                   else base(settings, settings.command_api_port))
    load = Load(command_api)
    load.author(chaos_scale.courses, chaos_scale.lessons, chaos_scale.capacity,
                chaos_scale.students)
    crashed: list[BaseException] = []

    def drive() -> None:
        try:
            asyncio.run(load.run(chaos_scale.concurrency))
        except BaseException as error:  # noqa: BLE001 - handed to the test below
            crashed.append(error)

    running = threading.Thread(target=drive, daemon=True)
    running.start()
    faults.pause(1.0)
    started = time.monotonic()
    fault.inject(settings)
    over = time.monotonic()
    running.join(DEADLINE)
    assert not running.is_alive(), "the load did not finish"
    assert not crashed, f"the load itself failed: {crashed[0]!r}"
    enrolled = sum(1 for a in load.answers if a.kind == "enroll" and a.status in (200, 202))
    assert enrolled > 0, "the load enrolled nobody"
    recovery = recovered_in(settings, over, command_api)

    problems = invariants.only_documented_answers(load)
    problems += invariants.answered_commands_are_stored_once(settings, load)
    problems += invariants.no_seat_cap_exceeded(settings, load)
    problems += eventually(lambda: invariants.read_models_equal_the_store(
        settings, load, roster(settings, load)))
    ids = invariants.aggregates(settings, load)
    expected = invariants.store_count(settings, ids)
    problems += eventually(lambda: [] if invariants.clickhouse_counts(settings, ids) == (
        expected, expected) else [f"ClickHouse {invariants.clickhouse_counts(settings, ids)}"
                                  f" for {expected} stored events"])
    problems += eventually(lambda: invariants.publishing_finished(settings, load))
    statuses: dict[str, int] = {}
    for answer in load.answers:
        statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
    report(settings, {"fault": fault.name, "fault_seconds": round(over - started, 2),
                      "recovery_seconds": round(recovery, 2), "commands": len(load.answers),
                      "statuses": statuses, "problems": problems[:5]})
    assert problems == []
