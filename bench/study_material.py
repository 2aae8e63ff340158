"""Study material from a lesson with the `extractive` provider, beside a raw anchor, same run.

    .venv/bin/python -m bench.study_material [--rounds 50]

For each lesson of the shipped course: the prompt (chunks through the guardrails, the
course's terms), the provider chain's stream and the item-by-item checks, as
`assistant/enhancements.py` runs them before recording the draft (docs/adr/0042). The anchor
is the bare work under it: chunking the lesson and scoring its words (`content_words` of
each chunk), no generation and no checks. Prints p50/p95 per lesson of each and the ratio.
No services needed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from uuid import uuid4

from assistant.domain.enhancement import Collector, EnhancementPrompt, Material
from assistant.domain.study_material import course_terms
from assistant.domain.text import content_words
from assistant.eval.dataset import load
from assistant.providers.chain import Generation, ProviderChain
from assistant.providers.extractive import ExtractiveProvider
from projections.content.chunking import split_words

DATA = load()
CHAIN = ProviderChain([ExtractiveProvider()])


def materials() -> list[Material]:
    lessons = list(DATA.lessons)
    return [Material(uuid4(), uuid4(), lesson.title, lesson.content,
                     tuple(o.content for o in lessons if o is not lesson)) for lesson in lessons]


async def generate(material: Material) -> int:
    prompt = EnhancementPrompt(material, course_terms(material))
    collector = Collector(material)
    async for piece in CHAIN.stream(prompt, Generation()):
        collector.feed(piece)
    collector.close()
    assert collector.usable(), collector.refusal()
    return len(collector.content.questions)


def anchor(material: Material) -> int:
    return sum(len(content_words(" ".join(words))) for words in split_words(material.content))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    made, bare = [], []
    questions = 0
    for _ in range(rounds):
        for material in materials():  # fresh each round: nothing cached between runs
            started = time.perf_counter()
            questions += asyncio.run(generate(material))
            made.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            anchor(material)
            bare.append((time.perf_counter() - started) * 1000)
    lessons = len(made)
    print(f"study material, extractive: {lessons} lessons generated, "
          f"{questions / lessons:.1f} questions each")
    print(f"  generate + check  p50 {statistics.median(made):8.3f} ms  "
          f"p95 {percentile(made, 0.95):8.3f} ms per lesson")
    print(f"  anchor (chunk + words) p50 {statistics.median(bare):8.3f} ms  "
          f"p95 {percentile(bare, 0.95):8.3f} ms per lesson")
    print(f"  ratio p50 {statistics.median(made) / statistics.median(bare):.1f}x")


if __name__ == "__main__":
    main()
