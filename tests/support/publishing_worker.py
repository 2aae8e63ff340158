"""A publishing worker in a process of its own, for the crash test.

    python -m tests.support.publishing_worker COURSE_ID

Runs the workflow on the course's latest course.published, read from the event store, as
the agent does when Kafka (re)delivers it. Settings come from SMARTCOURSE_* variables.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from uuid import UUID

from projections.deliveries import EventDelivery
from smartcourse.bootstrap import open_write_side
from smartcourse.settings import Settings
from streams.agents.publishing import run_publishing
from streams.workflows.wiring import open_publishing


async def main(course_id: UUID) -> int:
    settings = Settings()
    side = await open_write_side(settings)
    try:
        published = [e for e in await side.store.load(course_id)
                     if e.event_type == "course.published"][-1]
    finally:
        await side.close()

    async def deliveries() -> AsyncIterator[EventDelivery]:
        yield EventDelivery(published)

    async with open_publishing(settings) as workflow:
        return await run_publishing(deliveries(), workflow)


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(UUID(sys.argv[1]))) == 1 else 1)
