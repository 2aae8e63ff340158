"""Shared fixtures. Integration and e2e tests get the real local stack, started if needed."""

from __future__ import annotations

import pytest

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
