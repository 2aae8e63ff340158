"""Every HTTP request is counted per route template and logged with status and latency;
4xx and 5xx reach the log at WARNING and ERROR."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from smartcourse.observability import JsonFormatter
from smartcourse.observability.http import ObservedRequests


def app() -> FastAPI:
    made = FastAPI()
    made.add_middleware(ObservedRequests, api="unit")

    @made.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        if thing_id == 404:
            raise HTTPException(404, "no such thing")
        if thing_id == 500:
            raise RuntimeError("boom")
        return {"thing_id": thing_id}

    return made


def count(route: str, status: str) -> float:
    return REGISTRY.get_sample_value("smartcourse_http_requests_total", {
        "api": "unit", "method": "GET", "route": route, "status": status}) or 0.0


def test_requests_are_counted_by_route_template_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    before = {s: count("/things/{thing_id}", s) for s in ("200", "404", "500")}
    client = TestClient(app(), raise_server_exceptions=False)
    with caplog.at_level(logging.INFO, logger="smartcourse.access"):
        assert client.get("/things/1", headers={"X-Correlation-ID": "c-1"}).status_code == 200
        assert client.get("/things/2").status_code == 200
        assert client.get("/things/404").status_code == 404
        assert client.get("/things/500").status_code == 500
        assert client.get("/nowhere").status_code == 404
    assert count("/things/{thing_id}", "200") - before["200"] == 2
    assert count("/things/{thing_id}", "404") - before["404"] == 1
    assert count("/things/{thing_id}", "500") - before["500"] == 1
    assert count("<unmatched>", "404") >= 1

    access = [r for r in caplog.records if r.name == "smartcourse.access"]
    assert [(r.status, r.levelname) for r in access] == [  # type: ignore[attr-defined]
        (200, "INFO"), (200, "INFO"), (404, "WARNING"), (500, "ERROR"), (404, "WARNING")]
    first = json.loads(JsonFormatter().format(access[0]))
    assert first["correlation_id"] == "c-1"
    assert first["route"] == "/things/{thing_id}" and first["path"] == "/things/1"
    assert first["duration_ms"] >= 0 and first["level"] == "info"
    assert first["logger"] == "smartcourse.access"


def test_the_route_latency_histogram_counts_every_request() -> None:
    labels = {"api": "unit", "method": "GET", "route": "/things/{thing_id}"}
    before = REGISTRY.get_sample_value("smartcourse_http_request_duration_seconds_count",
                                       labels) or 0.0
    TestClient(app()).get("/things/3")
    assert REGISTRY.get_sample_value("smartcourse_http_request_duration_seconds_count",
                                     labels) == before + 1
