"""Replaying dead letters: bring a parked aggregate back into its projection.

The events come from the event store, not from the letters: the store is the source of
truth, it holds every event of the aggregate in order (the letters may be an undecodable
message that stands for none, and events after a gap are only in the store), and the sink
skips what was applied already. Everything happens in one transaction under the
projection's lock, which every live batch also takes: no live batch can park a new letter
between reading the store and marking the letters replayed. A letter that fails again is
recorded anew (and the aggregate parked again); the old ones are marked replayed either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from psycopg import AsyncConnection

from commands.adapters.event_store import COLUMNS, StoredEvent
from projections.deliveries import EventDelivery
from projections.sink import PostgresProjector
from streams import dead_letters
from streams.dead_letters import Letter

LOAD = (f"SELECT {COLUMNS} FROM event_store.events"
        " WHERE aggregate_id = %s ORDER BY version")


class NothingToReplay(LookupError):
    """No such letter, or it was replayed already."""


@dataclass
class Replayed:
    """What replaying one aggregate's letters did."""

    projection: str
    aggregate_id: UUID | None
    letters: list[Letter]  # the letters now marked replayed
    applied: int = 0
    duplicates: int = 0
    failed: list[Letter] = field(default_factory=list)  # new letters: it is parked again

    @property
    def ok(self) -> bool:
        return not self.failed


async def replay_aggregate(conn: AsyncConnection, projector: PostgresProjector,
                           aggregate_id: UUID | None) -> Replayed:
    """Apply the aggregate's events through the sink, unpark it, mark its letters replayed.

    `aggregate_id` None stands for letters that named no aggregate (nothing was parked for
    them); replaying those only marks them replayed."""
    projection = projector.projection
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [projection.lock_key])
        if aggregate_id is None:
            where, params = "aggregate_id IS NULL", [projection.name]
        else:
            where, params = "aggregate_id = %s", [projection.name, aggregate_id]
        letters = await dead_letters.fetch(
            conn, f"projection = %s AND {where} AND replayed_at IS NULL", params)
        done = Replayed(projection.name, aggregate_id, letters)
        if not letters:
            return done
        await dead_letters.mark_replayed(conn, [letter.id for letter in letters])
        if aggregate_id is None:
            return done
        cur = await conn.execute(LOAD, [aggregate_id])
        events = [StoredEvent(*row) for row in await cur.fetchall()]
        result = await projector.retry(conn, [EventDelivery(event) for event in events])
        done.applied, done.duplicates = result.applied, result.duplicates
        payloads = {letter.event_id: letter.payload for letter in letters if letter.event_id}
        done.failed = await dead_letters.record(conn, [
            dead_letters.letter_row(projection.name, letter,
                                    payloads.get(letter.delivery.event.event_id))
            for letter in result.dead_letters])
    return done


async def replay_letter(conn: AsyncConnection, letter_id: int) -> Replayed:
    """Replay the aggregate of one letter (with all its waiting letters, in order)."""
    found = await dead_letters.fetch(conn, "id = %s", [letter_id])
    if not found:
        raise NothingToReplay(f"no dead letter {letter_id}")
    letter = found[0]
    if letter.replayed_at is not None:
        raise NothingToReplay(f"dead letter {letter_id} was replayed at {letter.replayed_at}")
    return await replay_aggregate(conn, PostgresProjector(letter.projection),
                                  letter.aggregate_id)


async def replay_all(conn: AsyncConnection) -> list[Replayed]:
    """Every aggregate with waiting letters, oldest first."""
    projectors: dict[str, PostgresProjector] = {}
    done = []
    for name, aggregate_id in await dead_letters.waiting_aggregates(conn):
        projector = projectors.setdefault(name, PostgresProjector(name))
        done.append(await replay_aggregate(conn, projector, aggregate_id))
    return done
