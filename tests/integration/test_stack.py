"""`smartcourse stack`: health, idempotent up, clear port clashes, down keeps data, purge."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from infra import stack as local_stack
from infra.service import StackError
from infra.stack import SERVICE_CLASSES
from smartcourse.cli import app
from smartcourse.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Settings]:
    """A second Redis with its own port and data folder, so the shared stack is untouched."""
    settings = Settings(data_dir=tmp_path / "data", redis_port=free_port())
    yield settings
    local_stack.down(settings, ["redis"], purge=True)


def test_status_reports_every_service_healthy(stack: Settings) -> None:
    result = CliRunner().invoke(app, ["stack", "status"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert set(rows) == set(SERVICE_CLASSES)
    for name, row in rows.items():
        assert row[3] == "yes", f"{name} is not healthy: {row}"
        assert row[2].isdigit(), f"{name} has no pid: {row}"


def test_up_twice_leaves_running_services_alone(stack: Settings) -> None:
    before = {s.name: s.pid for s in local_stack.status(stack)}
    after = {s.name: s.pid for s in local_stack.up(stack)}
    assert after == before


def test_occupied_port_is_reported_with_service_and_port(
    tmp_path: Path, occupied_port: int
) -> None:
    settings = Settings(data_dir=tmp_path, redis_port=occupied_port)
    with pytest.raises(StackError, match=rf"redis: port {occupied_port} \(resp\) is already taken"):
        local_stack.up(settings, ["redis"])
    assert not (tmp_path / "run" / "redis.pid").exists()


def test_cli_exits_non_zero_with_one_line_reason_on_a_port_clash(
    tmp_path: Path, occupied_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTCOURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMARTCOURSE_REDIS_PORT", str(occupied_port))
    result = CliRunner().invoke(app, ["stack", "up", "redis"])
    assert result.exit_code == 1
    assert f"port {occupied_port}" in result.output


def test_down_keeps_data_and_purge_deletes_it(private_redis: Settings) -> None:
    local_stack.up(private_redis, ["redis"])
    client = redis.Redis.from_url(private_redis.redis_url)
    client.set("kept", "across restarts")
    client.close()

    assert local_stack.down(private_redis, ["redis"]) == ["redis"]
    assert local_stack.status(private_redis, ["redis"])[0].pid is None
    local_stack.up(private_redis, ["redis"])
    client = redis.Redis.from_url(private_redis.redis_url)
    assert client.get("kept") == b"across restarts"
    client.close()

    local_stack.down(private_redis, ["redis"], purge=True)
    assert not (private_redis.data_dir / "redis").exists()


def test_unknown_service_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(StackError, match="unknown service 'kafak'; known services: postgres"):
        local_stack.up(settings, ["kafak"])
