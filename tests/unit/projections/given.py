"""Given-events helpers for the fold tests: a bus on the in-memory store."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

from commands.adapters.event_store import StoredEvent
from commands.bus import CommandBus
from tests.unit.commands.fake_event_store import FakeEventStore
from tests.unit.projections.history import History


def platform(seed: int = 1) -> tuple[FakeEventStore, History]:
    store = FakeEventStore()
    return store, History(CommandBus(store), random.Random(seed))


def run(step: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(step)


def last(store: FakeEventStore, event_type: str) -> StoredEvent:
    """The latest event of a type (the one the test's last command recorded)."""
    return next(e for e in reversed(store.events) if e.event_type == event_type)


def where(event: StoredEvent, **params: Any) -> dict[str, Any]:
    """The parameters every row change of `event` carries, plus the given ones."""
    return {"id": event.aggregate_id, "at": event.occurred_at, "pos": event.position, **params}
