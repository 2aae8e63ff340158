"""What a projection is: a name, the aggregate types it reads, its tables, and a pure fold.

A fold turns one stored event into row changes: named SQL statements with their parameters.
It does no I/O and reads no clock or random source (timestamps are the event's `occurred_at`),
so the live path and a replay produce the same changes. Statements that depend on existing
rows (counters, lookups in helper tables) say so in SQL; the sink runs them in order, and the
version rule (ADR 0004) makes each event's changes apply exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from commands.adapters.event_store import StoredEvent

TOPIC_PREFIX = "smartcourse"  # as the relay's default: topics are <prefix>.<aggregate type>


@dataclass(frozen=True, eq=False)
class Statement:
    """One parameterised statement (psycopg `%(name)s` placeholders). `{s}` in the text stands
    for the version schema, so one fold writes whichever version is being built."""

    name: str
    sql: str
    _rendered: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def render(self, schema: str) -> bytes:
        """The statement for one schema, as the same bytes object every time: psycopg then
        neither re-encodes it nor re-hashes it to find its cached parse (a tenth of the CPU
        of a replay otherwise)."""
        query = self._rendered.get(schema)
        if query is None:
            query = self._rendered[schema] = self.sql.replace("{s}", schema).encode()
        return query

    def __repr__(self) -> str:
        return f"Statement({self.name})"


class Change(NamedTuple):
    """One step of a fold's output: run `statement` with `params`."""

    statement: Statement
    params: Mapping[str, Any]


Fold = Callable[[StoredEvent], list[Change]]


@dataclass(frozen=True)
class Projection:
    """A read model: its tables (DDL with `{s}` for the version schema), the tables the query
    API reads through the views `read_models.<table>`, and the fold that keeps them."""

    name: str
    aggregate_types: tuple[str, ...]
    ddl: str
    views: tuple[str, ...]
    fold: Fold

    def topics(self, prefix: str = TOPIC_PREFIX) -> tuple[str, ...]:
        """The Kafka topics a live worker subscribes to for this projection."""
        return tuple(f"{prefix}.{aggregate_type}" for aggregate_type in self.aggregate_types)

    def handles(self, event: StoredEvent) -> bool:
        return event.aggregate_type in self.aggregate_types

    def schema(self, version: int) -> str:
        """The schema that holds version `version` of the projection's tables."""
        return f"rm_{self.name}_v{version}"

    @property
    def lock_key(self) -> str:
        """Text for `pg_advisory_xact_lock(hashtext(...))`: taken by every live batch and by
        the replay's switch, so no batch straddles a version swap."""
        return f"projection:{self.name}"


def touch(event: StoredEvent) -> dict[str, Any]:
    """The parameters every row change carries: when and at which position it happened."""
    return {"at": event.occurred_at, "pos": event.position}


def uuid(payload: Mapping[str, Any], key: str) -> UUID:
    """A payload id as a UUID (payloads hold JSON: ids are text)."""
    value = payload[key]
    return value if isinstance(value, UUID) else UUID(value)


def uuids(values: list[Any]) -> list[UUID]:
    """A payload list of ids as UUIDs."""
    return [v if isinstance(v, UUID) else UUID(v) for v in values]


def index(payload: Mapping[str, Any]) -> int:
    """A module's or lesson's index in its parent. Events recorded before the field was
    renamed carry it as `position`; the store keeps them, so a replay must read both."""
    return payload["index"] if "index" in payload else payload["position"]
