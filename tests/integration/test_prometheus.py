"""Prometheus of the local stack scrapes every SmartCourse process (supervised by
`smartcourse app up`) and evaluates the SLO recording rules and alert rules."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from infra import stack as local_stack
from infra.stack import APP_CLASSES
from smartcourse.settings import Settings
from tests.support.supervised import app_processes

pytestmark = pytest.mark.integration
DEADLINE = 120.0


def query(base: str, promql: str) -> list[dict]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


@pytest.fixture
def running(stack: Settings) -> Iterator[Settings]:
    local_stack.up(stack, ["prometheus"])
    with app_processes(stack):
        yield stack


def test_every_process_is_scraped_and_rules_are_loaded(running: Settings) -> None:
    stack = running
    base = f"http://{stack.host}:{stack.prometheus_port}"
    deadline = time.monotonic() + DEADLINE
    while True:
        up = {r["metric"]["job"]: r["value"][1] for r in query(base, "up")}
        if all(up.get(job) == "1" for job in APP_CLASSES) or time.monotonic() > deadline:
            break
        time.sleep(1)  # a bounded wait for the next scrapes
    assert up == {job: "1" for job in APP_CLASSES}
    assert query(base, 'smartcourse_http_requests_total{job="query-api"}')
    assert query(base, 'smartcourse_projection_position{projection="course_catalog"}')
    groups = httpx.get(f"{base}/api/v1/rules", timeout=10).json()["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"smartcourse:http_request_duration_seconds:p99_5m",
            "smartcourse:http_errors:ratio_rate5m", "smartcourse:projection_freshness_seconds:max",
            "SmartCourseDeadLetters", "SmartCourseWorkflowStuck",
            "SmartCourseErrorBudgetBurnFast", "SmartCourseProcessDegraded"} <= names
    assert all(rule.get("health") == "ok" for group in groups for rule in group["rules"])
