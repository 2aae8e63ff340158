"""Read-your-writes waits: until the positions reach the token, or NotCaughtUp at the bound."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from query_api.consistency import PositionWatcher, caught_up, poll_delays, requested_token
from query_api.errors import NotCaughtUp


class ScriptedWatcher(PositionWatcher):
    """Positions come from a script, one entry per read; the last one repeats."""

    def __init__(self, script: list[dict[str, int]], poll: float = 0.005) -> None:
        super().__init__(pool=None, dsn="", channel=None,  # type: ignore[arg-type]
                         first_poll=poll, max_poll=poll)
        self.script = script
        self.reads = 0

    async def _read_all(self) -> dict[str, int]:
        self.reads += 1
        await asyncio.sleep(0)  # a query takes a moment: concurrent waiters overlap it
        return self.script[min(self.reads, len(self.script)) - 1]


def test_the_token_is_the_larger_of_header_and_query() -> None:
    assert requested_token(None, None) is None
    assert requested_token(7, None) == requested_token(None, 7) == 7
    assert requested_token(3, 9) == 9


def test_caught_up_needs_every_projection() -> None:
    assert caught_up({"a": 5, "b": 9}, 5)
    assert not caught_up({"a": 4, "b": 9}, 5)


def test_polling_backs_off_to_a_ceiling() -> None:
    delays = list(itertools.islice(poll_delays(0.01, 0.05), 5))
    assert delays == [0.01, 0.02, 0.04, 0.05, 0.05]


def test_a_reached_token_answers_at_once() -> None:
    watcher = ScriptedWatcher([{"a": 10}])
    assert asyncio.run(watcher.wait(["a"], 10, timeout=1.0)) == {"a": 10}
    assert watcher.reads == 1


def test_a_waiter_answers_once_the_position_advances() -> None:
    watcher = ScriptedWatcher([{"a": 1, "b": 9}, {"a": 5, "b": 9}, {"a": 12, "b": 12}])
    assert asyncio.run(watcher.wait(["a", "b"], 12, timeout=30.0)) == {"a": 12, "b": 12}
    assert watcher.reads == 3


def test_a_notification_wakes_waiters_before_their_next_poll() -> None:
    async def scenario() -> int:
        watcher = ScriptedWatcher([{"a": 1}, {"a": 2}], poll=3600.0)  # only a wake ends it
        waiting = asyncio.create_task(watcher.wait(["a"], 2, timeout=7200.0))
        while watcher.reads == 0:
            await asyncio.sleep(0)
        watcher._wake()
        assert await asyncio.wait_for(waiting, 10) == {"a": 2}
        return watcher.reads
    assert asyncio.run(scenario()) == 2


def test_waiters_woken_together_share_one_read() -> None:
    async def scenario() -> tuple[list[dict[str, int]], int]:
        watcher = ScriptedWatcher([{"a": 1, "b": 1}], poll=3600.0)
        waiting = []
        for name in ("a", "b") * 5:  # each waiter reads, finds 1 < 2 and parks
            waiting.append(asyncio.create_task(watcher.wait([name], 2, timeout=7200.0)))
            while watcher.reads < len(waiting):
                await asyncio.sleep(0)
        watcher.script = [{"a": 2, "b": 3}]
        watcher.reads = 0
        watcher._wake()
        return list(await asyncio.gather(*waiting)), watcher.reads
    answers, reads = asyncio.run(scenario())
    assert answers == [{"a": 2}, {"b": 3}] * 5
    assert reads == 1  # after the NOTIFY, one query served all ten


def test_past_the_bound_it_is_not_caught_up_with_the_positions_reached() -> None:
    watcher = ScriptedWatcher([{"a": 3, "b": 4}])
    with pytest.raises(NotCaughtUp) as late:
        asyncio.run(watcher.wait(["a", "b"], 5, timeout=0.02))
    assert late.value.code == "read_model.not_caught_up"
    assert late.value.details == {"token": 5, "positions": {"a": 3, "b": 4}}
