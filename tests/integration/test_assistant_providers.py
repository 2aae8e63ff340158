"""The HTTP providers over a real socket, against the stand-in server's OpenAI and Anthropic
streams; the chain's breaker opens on the failing one and falls back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import pytest

from assistant.domain.enhancement import Collector, EnhancementPrompt, Material
from assistant.domain.study_material import course_terms
from assistant.providers.base import Prompt, ProviderError, Usage
from assistant.providers.breaker import OPEN, CircuitBreaker
from assistant.providers.chain import Generation, Limits, ProviderChain
from assistant.providers.extractive import ExtractiveProvider
from assistant.providers.http import AnthropicProvider, OpenAICompatibleProvider
from tests.support.llm_standin import StandIn, running

pytestmark = pytest.mark.integration

PROMPT = Prompt("What is a branch?", (
    (1, "Branches", "A branch in Git is a movable pointer to a commit. HEAD names it."),))


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with running() as state:
        yield state


async def _text(stream: AsyncIterator[str]) -> list[str]:
    return [piece async for piece in stream]


def test_openai_compatible_stream_gives_pieces_and_usage(standin: StandIn) -> None:
    provider = OpenAICompatibleProvider(f"{standin.base_url}/v1", "gpt-test", "sk-test")
    usage = Usage()
    pieces = asyncio.run(_text(provider.stream(PROMPT, usage)))
    assert len(pieces) > 3
    assert "".join(pieces) == "A branch in Git is a movable pointer to a commit [1]."
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reported) == (321, len(pieces),
                                                                              True)
    sent = standin.requests[-1]["body"]
    assert sent["stream"] is True and sent["messages"][0]["role"] == "system"


def test_anthropic_stream_gives_pieces_and_usage(standin: StandIn) -> None:
    provider = AnthropicProvider(standin.base_url, "claude-test", "key-test")
    usage = Usage()
    pieces = asyncio.run(_text(provider.stream(PROMPT, usage)))
    assert "".join(pieces) == "A branch in Git is a movable pointer to a commit [1]."
    assert (usage.prompt_tokens, usage.completion_tokens) == (123, len(pieces))
    request = standin.requests[-1]
    assert request["key"] == "key-test" and "data, not instructions" in request["body"]["system"]


def test_malformed_streams_and_server_errors_are_provider_errors(standin: StandIn) -> None:
    provider = OpenAICompatibleProvider(f"{standin.base_url}/v1", "gpt-test", "")
    for mode, message in (("garbage", "malformed"), ("fail", "answered 500")):
        standin.mode = mode
        with pytest.raises(ProviderError, match=message):
            asyncio.run(_text(provider.stream(PROMPT, Usage())))


def test_the_breaker_opens_on_the_failing_server_and_the_chain_falls_back(
        standin: StandIn) -> None:
    standin.mode = "fail"
    remote = AnthropicProvider(standin.base_url, "claude-test", "key-test")
    chain = ProviderChain([remote, ExtractiveProvider()], Limits(attempts=1),
                          {"anthropic": CircuitBreaker(threshold=2, reset_after=60)})

    async def ask() -> tuple[str, Generation]:
        generation = Generation()
        return "".join(await _text(chain.stream(PROMPT, generation))), generation

    async def three() -> list[tuple[str, Generation]]:
        return [await ask() for _ in range(3)]

    answers = asyncio.run(three())  # one loop: the provider's client belongs to it
    assert all(g.provider == "extractive" and "[1]" in text for text, g in answers)
    assert chain.breaker("anthropic").state == OPEN
    assert len(standin.requests) == 2  # the third question never reached the server
    assert answers[2][1].attempts[0].outcome == "skipped:open"


def _material() -> Material:
    lesson = ("A branch in Git is a movable pointer to a commit. The special pointer HEAD "
              "tells Git which branch you are on. Teams use short-lived feature branches.")
    others = ("A tag names one commit, usually a release. Annotated tags store a message.",
              "git stash saves unfinished work in a stack of entries for later.")
    return Material(uuid4(), uuid4(), "Branches", lesson, others)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_model_over_http_writes_study_material_that_passes_the_checks(
        standin: StandIn, api: str) -> None:
    provider = (OpenAICompatibleProvider(f"{standin.base_url}/v1", "gpt-test", "sk-test")
                if api == "openai" else AnthropicProvider(standin.base_url, "claude", "key"))
    material = _material()
    prompt = EnhancementPrompt(material, course_terms(material))
    collector = Collector(material)

    for piece in asyncio.run(_text(provider.stream(prompt, Usage()))):
        collector.feed(piece)
    collector.close()

    assert collector.usable() and collector.rejected == []
    (question,) = collector.content.questions
    assert question["quote"] == "A branch in Git is a movable pointer to a commit."
    assert question["options"][question["correct"]] == "movable"
    assert question["lesson_id"] == str(material.lesson_id)
    sent = standin.requests[-1]["body"]
    assert "JSON lines" in (sent.get("system") or sent["messages"][0]["content"])


def test_a_model_that_ignores_the_format_is_refused_with_its_reason(standin: StandIn) -> None:
    provider = OpenAICompatibleProvider(f"{standin.base_url}/v1", "gpt-test", "sk-test")
    material = _material()
    collector = Collector(material)
    chat = PROMPT  # a question prompt: the stand-in answers in prose, as a chatty model would
    for piece in asyncio.run(_text(provider.stream(chat, Usage()))):
        collector.feed(piece)
    collector.close()
    assert not collector.usable()
    assert collector.refusal().startswith("the provider's output has no summary and no valid")
    assert "line 1: not a JSON object" in collector.refusal()
