"""Both APIs export RED metrics per route and log every request; the query API exports the
platform's gauges (projection positions and lag, consumer group lag of both workers, dead
letters waiting, workflows)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from commands.adapters.relay import RelayConfig, ensure_topics
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.integration


def samples(text: str, name: str) -> dict[str, float]:
    """`name{labels}` -> value for every sample of one metric."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


def test_the_query_api_exports_red_metrics_and_platform_gauges(
        stack: Settings, query_api: str) -> None:
    # The domain topics exist once the relay has started; the lag of both workers' groups is
    # exported for them even before a worker has committed anything.
    config = RelayConfig(topic_prefix=stack.worker_topic_prefix)
    ensure_topics(stack.kafka_bootstrap, config.topics(), config.partitions,
                  config.replication_factor)
    assert httpx.get(f"{query_api}/courses/{uuid4()}").status_code == 404
    deadline = time.monotonic() + 60  # new topics answer NOT_LEADER until their leaders settle
    while True:
        text = httpx.get(f"{query_api}/metrics", timeout=30).text
        if samples(text, "smartcourse_consumer_group_lag_messages") or \
                time.monotonic() > deadline:
            break
        time.sleep(0.5)
    requests = samples(text, "smartcourse_http_requests_total")
    assert any('api="query"' in k and 'route="/courses/{course_id}"' in k
               and 'status="404"' in k for k in requests), requests
    assert samples(text, "smartcourse_http_request_duration_seconds_count")
    assert samples(text, "smartcourse_store_head_position")
    positions = samples(text, "smartcourse_projection_position")
    assert any('projection="course_catalog"' in k for k in positions), positions
    assert samples(text, "smartcourse_projection_lag_events")
    lag = samples(text, "smartcourse_consumer_group_lag_messages")
    groups = {k.split('group="')[1].split('"')[0] for k in lag}
    assert {stack.worker_app_id, stack.analytics_worker_app_id} <= groups, lag
    assert "smartcourse_dlq_depth" in text and "smartcourse_workflows_stuck" in text
    assert samples(text, "smartcourse_platform_scrape_seconds")


def test_the_command_api_counts_and_logs_every_answer_with_its_status(
        stack: Settings, command_api: str, server_logs: Path) -> None:
    client = CommandClient(command_api, role="instructor")
    refused = client.post("/courses", {"title": ""}, **{"X-Correlation-ID": str(uuid4())})
    assert refused.status_code == 422
    text = httpx.get(f"{command_api}/metrics").text
    assert any('api="command"' in k and 'route="/courses"' in k and 'status="422"' in k
               for k in samples(text, "smartcourse_http_requests_total"))
    port = command_api.rsplit(":", 1)[1]
    lines = [json.loads(line) for line in
             (server_logs / f"command-api-{port}.log").read_text().splitlines()
             if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "smartcourse.access"
              and line.get("status") == 422]
    assert access and access[-1]["level"] == "warning"
    assert access[-1]["route"] == "/courses" and access[-1]["duration_ms"] > 0
