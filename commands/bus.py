"""The write side's entry point: dispatches a command to its handler inside a unit of work."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from commands.adapters.event_store import EventStore, Metadata
from commands.handlers import HANDLERS
from commands.messages import Actor
from commands.unit_of_work import AggregateCache, CommandResult, run_command
from privacy.sealing import MemoryKeys, PersonalData


class CommandBus:
    def __init__(self, store: EventStore, cache: AggregateCache | None = None,
                 personal: PersonalData | None = None) -> None:
        self.store = store
        self.cache = cache or AggregateCache()
        # Keys in memory only for the fakes of unit tests: the composition root always
        # passes the PostgreSQL key store (smartcourse/bootstrap.py).
        self.personal = personal or PersonalData(MemoryKeys())

    async def execute(
        self,
        command: Any,
        actor: Actor,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> CommandResult:
        handler = HANDLERS[type(command)]
        metadata = Metadata(
            actor=str(actor.user_id),
            correlation_id=correlation_id or uuid4(),
            causation_id=causation_id,
        )
        return await run_command(
            lambda uow: handler(command, actor, uow), self.store, self.cache, metadata,
            self.personal,
        )
