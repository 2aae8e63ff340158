"""Writes a batch into one version schema, in the caller's transaction: the rows, the applied
versions and the parked aggregates together (ADR 0004: they commit or vanish as one).

Fast path: every change and the bookkeeping go down one pipeline inside a savepoint, with
no round trip per statement. If PostgreSQL refuses any of it, the savepoint is rolled back
and the batch is written again one event per savepoint, so only the poison event (and its
aggregate's later events) is parked and the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, AsyncCursor

from projections.base import Projection
from projections.batch import Plan, Step, plan_batch
from projections.deliveries import AGGREGATE_PARKED, WRITE_FAILED, DeadLetter, EventDelivery

# Errors that belong to one event's data or statements; connection and concurrency errors
# (OperationalError) are not the event's fault and end the batch, to be retried whole.
WRITE_ERRORS = (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError,
                psycopg.InternalError, psycopg.NotSupportedError)

LOAD = """
SELECT aggregate_id, version, false FROM {s}.applied WHERE aggregate_id = ANY(%(ids)s)
UNION ALL
SELECT aggregate_id, 0, true FROM {s}.parked WHERE aggregate_id = ANY(%(ids)s)
"""
SAVE_VERSIONS = """
INSERT INTO {s}.applied (aggregate_id, version)
SELECT * FROM unnest(%(ids)s::uuid[], %(versions)s::int[])
ON CONFLICT (aggregate_id) DO UPDATE SET version = excluded.version
"""
SAVE_PARKED = """
INSERT INTO {s}.parked (aggregate_id, reason, error, event_id, version, position)
SELECT * FROM unnest(%(ids)s::uuid[], %(reasons)s::text[], %(errors)s::text[],
                     %(events)s::uuid[], %(versions)s::int[], %(positions)s::bigint[])
ON CONFLICT (aggregate_id) DO NOTHING
"""


@dataclass
class VersionCache:
    """The replay's memory of what it applied. While a version is being built nobody else
    writes it, so the cache is the truth for every aggregate it holds; `complete` says the
    schema holds nothing beyond it (a build from scratch), which saves the lookups."""

    complete: bool
    versions: dict[UUID, int] = field(default_factory=dict)
    parked: set[UUID] = field(default_factory=set)


@dataclass
class Written:
    applied: int
    duplicates: int
    ignored: int
    dead_letters: list[DeadLetter]


async def apply_events(conn: AsyncConnection, projection: Projection, schema: str,
                       deliveries: Sequence[EventDelivery],
                       cache: VersionCache | None = None) -> Written:
    """Apply events (in order) to the version schema `schema` under the version rule."""
    ids = list({d.event.aggregate_id for d in deliveries if projection.handles(d.event)})
    applied, parked = await _load(conn, schema, ids, cache)
    plan = plan_batch(projection, deliveries, applied, parked)
    try:
        async with conn.transaction():
            await _write(conn, schema, plan.steps, plan.parked)
        steps, failed = plan.steps, {}
    except WRITE_ERRORS:
        steps, failed = await _write_one_by_one(conn, schema, plan)
    if cache is not None:
        cache.versions.update(_versions(steps))
        cache.parked.update(plan.parked, failed)
    letters = plan.dead_letters
    if failed:  # merge the write failures in, in delivery order
        order = {id(d): n for n, d in enumerate(deliveries)}
        letters = sorted([*letters, *_letters(failed)], key=lambda x: order[id(x.delivery)])
    return Written(len(steps), plan.duplicates, plan.ignored, letters)


async def _load(conn: AsyncConnection, schema: str, ids: list[UUID],
                cache: VersionCache | None) -> tuple[dict[UUID, int], set[UUID]]:
    if cache is not None:
        unknown = [] if cache.complete else [i for i in ids if i not in cache.versions
                                             and i not in cache.parked]
        if unknown:
            versions, parked = await _select(conn, schema, unknown)
            cache.versions.update(versions)
            cache.parked.update(parked)
        return cache.versions, cache.parked
    return await _select(conn, schema, ids)


async def _select(conn: AsyncConnection, schema: str,
                  ids: list[UUID]) -> tuple[dict[UUID, int], set[UUID]]:
    if not ids:
        return {}, set()
    cur = await conn.execute(LOAD.replace("{s}", schema), {"ids": ids})
    versions: dict[UUID, int] = {}
    parked: set[UUID] = set()
    for aggregate_id, version, is_parked in await cur.fetchall():
        if is_parked:
            parked.add(aggregate_id)
        else:
            versions[aggregate_id] = version
    return versions, parked


async def _write(conn: AsyncConnection, schema: str, steps: Sequence[Step],
                 parked: dict[UUID, DeadLetter]) -> None:
    async with conn.pipeline():
        cur = conn.cursor()
        for step in steps:
            for change in step.changes:
                await cur.execute(change.statement.render(schema), change.params)
        await _bookkeep(cur, schema, _versions(steps), parked)


async def _write_one_by_one(conn: AsyncConnection, schema: str,
                            plan: Plan) -> tuple[list[Step], dict[UUID, list[DeadLetter]]]:
    written: list[Step] = []
    failed: dict[UUID, list[DeadLetter]] = {}
    for step in plan.steps:
        aggregate = step.delivery.event.aggregate_id
        if aggregate in failed:
            failed[aggregate].append(DeadLetter(
                step.delivery, AGGREGATE_PARKED, f"aggregate {aggregate} is parked"
                f" ({WRITE_FAILED})"))
            continue
        try:
            async with conn.transaction():
                for change in step.changes:
                    await conn.execute(change.statement.render(schema), change.params)
        except WRITE_ERRORS as error:
            failed[aggregate] = [DeadLetter(step.delivery, WRITE_FAILED,
                                            f"{type(error).__name__}: {error}".strip())]
            continue
        written.append(step)
    parked = {**plan.parked, **{a: letters[0] for a, letters in failed.items()}}
    async with conn.pipeline():
        await _bookkeep(conn.cursor(), schema, _versions(written), parked)
    return written, failed


def _versions(steps: Iterable[Step]) -> dict[UUID, int]:
    """The last version written per aggregate (steps keep each aggregate's order)."""
    return {s.delivery.event.aggregate_id: s.delivery.event.version for s in steps}


def _letters(failed: dict[UUID, list[DeadLetter]]) -> list[DeadLetter]:
    return [letter for letters in failed.values() for letter in letters]


async def _bookkeep(cur: AsyncCursor, schema: str, versions: dict[UUID, int],
                    parked: dict[UUID, DeadLetter]) -> None:
    if versions:
        await cur.execute(SAVE_VERSIONS.replace("{s}", schema),
                          {"ids": list(versions), "versions": list(versions.values())})
    if parked:
        letters = list(parked.values())
        await cur.execute(SAVE_PARKED.replace("{s}", schema), {
            "ids": list(parked), "reasons": [x.reason for x in letters],
            "errors": [x.error for x in letters],
            "events": [x.delivery.event.event_id for x in letters],
            "versions": [x.delivery.event.version for x in letters],
            "positions": [x.delivery.event.position for x in letters],
        })
