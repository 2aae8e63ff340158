"""The schema registry at start-up: several processes registering the same contracts at
once all succeed (Apicurio's 409 for a rule another one just set is not an error), and a
command API that cannot reach the registry says so: not ready, a metric, an ERROR line."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from commands.adapters.avro_contracts import register, registry_client
from smartcourse.local_servers import free_port, serve
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.integration


def test_processes_registering_at_once_all_get_the_same_id(stack: Settings) -> None:
    namespace = f"race{uuid.uuid4().hex[:10]}"
    schema = {"type": "record", "name": "Thing", "namespace": namespace,
              "fields": [{"name": "a", "type": "string"}]}
    ids: list[int] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            ids.append(register(registry_client(stack.registry_url), schema))
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ids) == 6 and len(set(ids)) == 1


def test_a_command_api_without_registry_is_degraded_and_says_so(
        stack: Settings, server_logs: Path) -> None:
    nowhere = f"http://{stack.host}:{free_port()}/apis/ccompat/v7"
    env = {"SMARTCOURSE_REGISTRY_URL": nowhere, "SMARTCOURSE_REGISTRY_START_WAIT": "1",
           "SMARTCOURSE_REGISTRY_RETRY_INTERVAL": "60"}
    with serve("command-api", stack, server_logs, health="/health/live", env=env) as base:
        ready = httpx.get(f"{base}/health/ready", timeout=10)
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "degraded"
        assert "unencoded" in body["degraded"]["unencoded_appends"]
        assert httpx.get(f"{base}/health", timeout=10).status_code == 503

        CommandClient(base, role="instructor").create_course("Appended unencoded")
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert 'smartcourse_degraded{reason="unencoded_appends"} 1.0' in metrics
        assert 'smartcourse_event_store_unencoded_total{why="no_encoder"}' in metrics
        assert _sample(metrics, 'smartcourse_event_store_unencoded_total{why="no_encoder"}') >= 1
        assert _sample(metrics, 'smartcourse_registry_failures_total{operation="register"}') >= 1
    log = next(server_logs.glob(f"command-api-{base.rsplit(':', 1)[1]}.log")).read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["level"] == "error" and line.get("reason") == "unencoded_appends"
               for line in lines)


def _sample(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")
