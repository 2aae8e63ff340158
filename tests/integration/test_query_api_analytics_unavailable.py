"""Dashboards over analytics that are not built (or a ClickHouse that does not answer) are a
503 to retry with a clear code, never a 500."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from smartcourse.local_servers import serve
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient


@pytest.mark.parametrize("env", [
    {"SMARTCOURSE_ANALYTICS_DATABASE": f"never_built_{uuid4().hex[:8]}"},
    {"SMARTCOURSE_CLICKHOUSE_HTTP_PORT": "1"},  # nothing listens there
], ids=["tables-missing", "clickhouse-down"])
def test_analytics_reads_are_503_until_the_store_answers(
        stack: Settings, command_api: str, server_logs: Path, env: dict[str, str]) -> None:
    admin = CommandClient(command_api, role="admin")
    with serve("query-api", stack, server_logs, env=env, health="/health/live") as query_api:
        answer = httpx.get(f"{query_api}/analytics/anomalies", headers=admin.headers, timeout=30)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "analytics.unavailable"
    assert answer.headers["Retry-After"] == "1"
