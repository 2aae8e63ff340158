"""Fixtures shared by the integration tests of the projections."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from uuid import uuid4

import pytest
from psycopg import AsyncConnection

from projections.base import Projection
from projections.registry import PROJECTIONS
from projections.schema import drop_projection
from smartcourse.settings import Settings
from tests.support.projections import Make


@pytest.fixture
def dsn(stack: Settings) -> str:
    return stack.pg_dsn


@pytest.fixture
def copy_of(dsn: str) -> Iterator[Make]:
    """Private copies of projections (own name, no views), dropped after the test, so tests
    never disturb the live read models or each other."""
    made: list[Projection] = []

    def make(name: str) -> Projection:
        made.append(replace(PROJECTIONS[name], name=f"t{uuid4().hex[:8]}_{name}", views=()))
        return made[-1]

    yield make
    asyncio.run(_drop(dsn, made))


async def _drop(dsn: str, projections: list[Projection]) -> None:
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        for projection in projections:
            await drop_projection(conn, projection)
