"""SmartCourse's own processes for one integration test, as `smartcourse app up` runs them,
stopped afterwards (those the test started): the supervised worker runs the publishing
workflow and the workflow worker the enrollment workflow, which later tests that drive the
workflows themselves must not meet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from infra import stack as local_stack
from smartcourse.local_servers import wait_until_caught_up
from smartcourse.settings import Settings


@contextmanager
def app_processes(settings: Settings) -> Iterator[None]:
    group = local_stack.APP_CLASSES
    already = {s.name for s in local_stack.status(settings, group=group) if s.pid}
    local_stack.up(settings, None, group)
    try:
        # Started afresh, the relay first publishes what other tests appended meanwhile and
        # the worker works it off: a read-your-writes read before that would time out.
        wait_until_caught_up(settings)
        yield
    finally:
        started = [name for name in group if name not in already]
        if started:
            local_stack.down(settings, started, group=group)
