"""The extractive provider, the circuit breaker and the chain's fallback (pure logic: the
providers here are fakes; the HTTP ones run against a stand-in server in integration)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from assistant.providers.base import Prompt, ProviderError, Usage
from assistant.providers.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from assistant.providers.chain import AllProvidersFailed, Generation, Limits, ProviderChain
from assistant.providers.extractive import ExtractiveProvider

PROMPT = Prompt("How do I undo a shared commit?", (
    (1, "Undoing changes", "git restore throws away edits. git revert creates a new commit "
                           "that undoes an earlier one, so it is safe on shared branches."),
    (2, "Tags", "A tag names one commit."),
))


async def _text(stream: AsyncIterator[str]) -> str:
    return "".join([piece async for piece in stream])


def test_extractive_answers_with_the_matching_sentence_and_its_citation() -> None:
    text = asyncio.run(_text(ExtractiveProvider().stream(PROMPT, Usage())))
    assert text.startswith("git revert creates a new commit that undoes an earlier one")
    assert "[1]" in text and "[2]" not in text
    assert asyncio.run(_text(ExtractiveProvider().stream(PROMPT, Usage()))) == text


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_failures_and_half_opens_after_the_pause() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, reset_after=10, clock=clock)
    breaker.failed()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.failed()
    assert breaker.state == OPEN and not breaker.allow()
    clock.now = 10
    assert breaker.state == HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.failed()
    assert breaker.state == OPEN
    clock.now = 20
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == CLOSED


class Failing:
    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    async def stream(self, prompt: Prompt, usage: Usage) -> AsyncIterator[str]:
        self.calls += 1
        raise ProviderError("connection refused")
        yield ""  # pragma: no cover - makes this an async generator


class Slow:
    name = "slow"

    async def stream(self, prompt: Prompt, usage: Usage) -> AsyncIterator[str]:
        await asyncio.sleep(5)
        yield "late"


def test_the_chain_falls_back_and_the_breaker_then_skips_the_failing_provider() -> None:
    failing = Failing()
    chain = ProviderChain([failing, ExtractiveProvider()],
                          Limits(attempts=2, retry_delay=0),
                          {"failing": CircuitBreaker(threshold=2, reset_after=60)})

    async def ask() -> tuple[str, Generation]:
        generation = Generation()
        return await _text(chain.stream(PROMPT, generation)), generation

    text, first = asyncio.run(ask())
    assert "[1]" in text and first.provider == "extractive"
    assert [a.outcome for a in first.attempts][:2] == ["failed:connection refused"] * 2
    assert chain.breaker("failing").state == OPEN
    _, second = asyncio.run(ask())
    assert second.attempts[0].outcome == "skipped:open" and failing.calls == 2


def test_a_provider_that_does_not_start_in_time_is_timed_out() -> None:
    chain = ProviderChain([Slow(), ExtractiveProvider()],
                          Limits(first_piece_timeout=0.05, attempts=1))
    generation = Generation()
    text = asyncio.run(_text(chain.stream(PROMPT, generation)))
    assert generation.attempts[0].outcome == "failed:timeout" and "[1]" in text


def test_when_every_provider_fails_the_chain_says_so() -> None:
    chain = ProviderChain([Failing()], Limits(attempts=1))
    with pytest.raises(AllProvidersFailed, match="failing failed"):
        asyncio.run(_text(chain.stream(PROMPT, Generation())))
