"""Analytics consent in ClickHouse (docs/adr/0031): a learner who withdrew the `analytics`
consent gets only the minimum from that event on.

The minimum is what course-level figures need (which course, lesson, score, when, and one
anonymous learner per enrollment); beyond it is linking a learner's activity to their
pseudonymous user id (across courses and over time). So an event whose user had withdrawn
at its position (the latest `analytics` consent event at or before it is a withdrawal) is
reduced: no `actor` naming the user, the `student_id` column and payload field replaced by a
pseudonym of the event's aggregate (an enrollment counts, it links to nobody), a user event's
aggregate id by a pseudonym of the event. Rows written while consent stood stay as they
were (a withdrawal does not reach back; erasure is the tool for that).

"At the event's position" makes the reduction a function of the event store alone, which is
immutable: the live sink and a rebuild write the same rows, whatever order the topics arrive
in. The ledger reads the store (PostgreSQL) once per flush, for the users the batch names.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID, uuid5

import psycopg

from commands.adapters.event_store import StoredEvent

PURPOSE = "analytics"
PSEUDONYMS = UUID("6f1d4c52-9a0e-4c43-8f77-3f2b1c6a0e11")

HISTORY = """
SELECT aggregate_id, position, event_type = 'user.consent_withdrawn'
FROM event_store.events
WHERE aggregate_id = ANY(%s) AND aggregate_type = 'user'
  AND event_type IN ('user.consent_given', 'user.consent_withdrawn')
  AND payload->>'purpose' = %s
ORDER BY aggregate_id, position
"""


def user_of(value: Any) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None  # `system`, or not an id at all


def users_named(event: StoredEvent) -> set[UUID]:
    """The users an event names: its actor, its student, the user of a user event."""
    named = {user_of(event.actor), user_of(event.payload.get("student_id"))}
    if event.aggregate_type == "user":
        named.add(event.aggregate_id)
    return {u for u in named if u is not None}


@dataclass
class Consents:
    """Per user, the positions of their `analytics` consent events and whether each was a
    withdrawal (ascending)."""

    history: dict[UUID, tuple[list[int], list[bool]]] = field(default_factory=dict)

    def withdrawn(self, user: UUID | None, position: int) -> bool:
        if user is None or user not in self.history:
            return False
        positions, withdrawals = self.history[user]
        at = bisect_right(positions, position)
        return at > 0 and withdrawals[at - 1]

    def reduce(self, event: StoredEvent) -> StoredEvent:
        """The event as the minimum allows, or the event itself when nobody it names
        withdrew."""
        withheld = {u for u in users_named(event) if self.withdrawn(u, event.position)}
        if not withheld:
            return event
        payload: Mapping[str, Any] = event.payload
        changes: dict[str, Any] = {}
        if user_of(event.actor) in withheld:
            changes["actor"] = None
        if user_of(payload.get("student_id")) in withheld:
            payload = {**payload, "student_id": str(pseudonym(event.aggregate_id))}
        if event.aggregate_type == "user" and event.aggregate_id in withheld:
            changes["aggregate_id"] = pseudonym(event.event_id)
        return replace(event, **changes, payload=dict(payload))


def pseudonym(of: UUID) -> UUID:
    """Stable (a rebuild gives the same), and links to nothing but `of`."""
    return uuid5(PSEUDONYMS, str(of))


class ConsentLedger:
    """Reads the users' analytics consent history from the event store, per batch."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection | None = None

    def consents(self, events: Iterable[StoredEvent]) -> Consents:
        users: set[UUID] = set()
        for event in events:
            users |= users_named(event)
        found = Consents()
        if not users:
            return found
        for user, position, withdrawal in self._connection().execute(
                HISTORY, [list(users), PURPOSE]).fetchall():
            positions, withdrawals = found.history.setdefault(user, ([], []))
            positions.append(position)
            withdrawals.append(withdrawal)
        return found

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
