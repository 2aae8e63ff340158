"""Shared fixtures. Integration and e2e tests get the real local stack, started if needed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The tests run the local stack: development keys and /auth/dev-token are allowed, and many
# accounts log in from one address within a minute (tests of the limits set their own).
os.environ.setdefault("SMARTCOURSE_ENV", "dev")
os.environ.setdefault("SMARTCOURSE_LOGIN_LIMIT_PER_IP", "1000000/minute")
os.environ.setdefault("SMARTCOURSE_LOGIN_LIMIT_PER_ACCOUNT", "1000000/minute")
os.environ.setdefault("SMARTCOURSE_WRITE_LIMIT_PER_USER", "1000000/minute")
# Module-scoped fixtures keep their accounts' tokens for the whole run (longer than the 15
# minutes of production); the expiry itself is tested with tokens of its own.
os.environ.setdefault("SMARTCOURSE_ACCESS_TOKEN_TTL_SECONDS", "14400")

from smartcourse.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """The whole local stack, up and healthy (`stack up` is idempotent, so this is cheap)."""
    from infra import stack as local_stack

    local_stack.up(settings)
    return settings


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def command_api(stack: Settings, server_logs: Path) -> Iterator[str]:
    """The command API as a real uvicorn process; yields its base URL."""
    from smartcourse.local_servers import serve

    with serve("command-api", stack, server_logs) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def query_api(stack: Settings, server_logs: Path) -> Iterator[str]:
    """The query API as a real uvicorn process; yields its base URL."""
    from smartcourse.local_servers import serve

    with serve("query-api", stack, server_logs) as base_url:
        yield base_url

