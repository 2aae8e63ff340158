"""Chaos hooks on a running query API: admins only, absent unless enabled; an injected
PostgreSQL failure answers 503 as an outage does, and clearing it restores service."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from smartcourse.local_servers import serve
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.integration


def test_faults_injected_by_an_admin_then_cleared(stack: Settings, command_api: str,
                                                  server_logs: Path) -> None:
    admin = CommandClient(command_api, role="admin").headers
    student = CommandClient(command_api, role="student").headers
    env = {"SMARTCOURSE_CHAOS_ENABLED": "true"}
    with serve("query-api", stack, server_logs, env=env) as base:
        assert httpx.get(f"{base}/courses").status_code == 200
        refused = httpx.put(f"{base}/admin/chaos/postgres", json={"error_rate": 1},
                            headers=student)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "auth.role_required"
        set_ = httpx.put(f"{base}/admin/chaos/postgres", json={"error_rate": 1, "delay_ms": 5},
                         headers=admin)
        assert set_.status_code == 200
        assert set_.json() == {"faults": {"postgres": {"error_rate": 1.0, "delay_ms": 5.0}}}
        failed = httpx.get(f"{base}/courses")
        assert failed.status_code == 503 and "error" in failed.json()
        assert httpx.get(f"{base}/courses/{uuid4()}").status_code == 503
        metrics = httpx.get(f"{base}/metrics").text
        assert 'smartcourse_chaos_faults_total{dependency="postgres",kind="error"}' in metrics
        assert httpx.delete(f"{base}/admin/chaos", headers=admin).json() == {"faults": {}}
        assert httpx.get(f"{base}/courses").status_code == 200


def test_without_the_switch_there_is_no_chaos_endpoint(stack: Settings, command_api: str,
                                                       query_api: str) -> None:
    admin = CommandClient(command_api, role="admin").headers
    assert httpx.put(f"{query_api}/admin/chaos/postgres", json={"error_rate": 1},
                     headers=admin).status_code == 404
    assert httpx.get(f"{query_api}/courses").status_code == 200
