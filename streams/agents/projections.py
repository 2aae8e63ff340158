"""One agent per PostgreSQL projection: batches of its topics' messages into its sink.

The stream does not ack on its own (`noack_take`): a batch's events are acked only after
`ProjectionRunner.handle` returned, that is after the sink's transaction committed, so the
offsets Faust commits never run ahead of the read models (at-least-once; the version rule
absorbs redelivery). Each projection has its own agent, stream and connection: projections
progress side by side and a batch of one never waits for another's transaction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import faust

from commands.adapters.avro_contracts import EventDecoder, registry_client
from projections.base import Projection
from projections.registry import PROJECTIONS
from streams.app import app, settings
from streams.dead_letters import Letter, topic_message
from streams.decoding import SharedDecoder
from streams.runner import ProjectionRunner, WorkerFailed
from streams.topics import dead_letter_topic, projection_topic

log = logging.getLogger("smartcourse.worker")

EX_SOFTWARE = 70  # the worker's exit status when a batch cannot be applied at all


def _decoder() -> EventDecoder:
    return EventDecoder(registry_client(settings.registry_url))


decode = SharedDecoder(_decoder)  # made when the first batch comes, shared by every agent


async def publish_dead_letters(letters: Sequence[Letter]) -> None:
    """To the dead-letter topic, waiting for Kafka to confirm each (before the batch acks)."""
    pending = []
    for letter in letters:
        key, value, headers = topic_message(letter)
        pending.append(await dead_letter_topic.send(key=key, value=value, headers=headers))
    for future in pending:
        await future


def _agent(projection: Projection) -> faust.types.AgentT:
    runner = ProjectionRunner(projection, settings.pg_dsn, decode, publish_dead_letters)

    async def project(stream: faust.StreamT) -> None:
        try:
            async for events in stream.noack_take(settings.worker_batch_size,
                                                  within=settings.worker_batch_within):
                await runner.handle([event.message for event in events])
                for event in events:
                    await stream.ack(event)
        except WorkerFailed as error:
            # Going on would skip the batch (Faust restarts an agent on the next message) and
            # stop offsets for good; exiting redelivers it to the next worker instead.
            log.critical("batch cannot be applied; the worker exits", exc_info=error, extra={
                "projection": projection.name, "reason": str(error)})
            os._exit(EX_SOFTWARE)
        finally:
            await runner.close()

    project.__name__ = project.__qualname__ = f"project_{projection.name}"
    return app.agent(projection_topic(projection), name=f"projection.{projection.name}")(
        project)


# SMARTCOURSE_WORKER_PROJECTIONS=0 leaves the read models out of a worker (an analytics one).
AGENTS = ({name: _agent(projection) for name, projection in PROJECTIONS.items()}
          if settings.worker_projections else {})
