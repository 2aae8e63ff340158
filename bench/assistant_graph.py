"""LangGraph StateGraph against plain code for the assistant's pipeline, same work, same run.

    .venv/bin/python -m bench.assistant_graph [--rounds 2000]

Both run the pipeline's pure stages over the same fixed passages (input guardrails, context
builder, extractive generation, output filter and grounding check, a telemetry record): the
plain way calls them in sequence (the anchor, as assistant/domain/pipeline.py does); the graph
way is a six-node `StateGraph` compiled once and invoked per question (`ainvoke`, and
`astream` with stream_mode="custom" as token streaming would use it). Prints the
per-question cost of each and the graph's overhead. No services needed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any, TypedDict
from uuid import uuid4

from assistant.domain import grounding
from assistant.domain.context import Passage, build_context
from assistant.domain.guardrails import clean_input, filter_output
from assistant.eval.dataset import load
from assistant.providers.base import Prompt, Usage
from assistant.providers.extractive import ExtractiveProvider

DATA = load()
PASSAGES = [Passage(uuid4(), uuid4(), uuid4(), lesson.title, 0, lesson.content, 0.5, 0.5)
            for lesson in DATA.lessons]
QUESTIONS = [q.question for q in DATA.questions if q.answerable]
PROVIDER = ExtractiveProvider()


def words(text: str) -> int:
    return len(text.split())


async def _generate(prompt: Prompt) -> str:
    return "".join([p async for p in PROVIDER.stream(prompt, Usage())])


async def plain(question: str) -> dict[str, Any]:
    cleaned = clean_input(question).text
    citations = build_context(PASSAGES, words, 1200)
    prompt = Prompt(cleaned, tuple((c.number, c.passage.lesson_title, c.text)
                                   for c in citations))
    answer = await _generate(prompt)
    out = filter_output(answer, ())
    score = grounding.check(out.text, [(c.number, c.text) for c in citations]).score
    return {"answer": out.text, "score": score}


class State(TypedDict, total=False):
    question: str
    cleaned: str
    citations: list[Any]
    prompt: Prompt
    answer: str
    score: float
    telemetry: dict[str, Any]


def build_graph() -> Any:
    from langgraph.config import get_stream_writer
    from langgraph.graph import END, START, StateGraph

    async def n_input(s: State) -> State:
        return {"cleaned": clean_input(s["question"]).text}

    async def n_retrieve(s: State) -> State:
        return {"citations": build_context(PASSAGES, words, 1200)}

    async def n_context(s: State) -> State:
        return {"prompt": Prompt(s["cleaned"], tuple(
            (c.number, c.passage.lesson_title, c.text) for c in s["citations"]))}

    async def n_generate(s: State) -> State:
        writer = get_stream_writer()
        pieces = []
        async for piece in PROVIDER.stream(s["prompt"], Usage()):
            writer({"token": piece})
            pieces.append(piece)
        return {"answer": "".join(pieces)}

    async def n_post(s: State) -> State:
        out = filter_output(s["answer"], ())
        return {"answer": out.text, "score": grounding.check(
            out.text, [(c.number, c.text) for c in s["citations"]]).score}

    async def n_telemetry(s: State) -> State:
        return {"telemetry": {"score": s["score"]}}

    graph = StateGraph(State)
    nodes = [("input", n_input), ("retrieve", n_retrieve), ("context", n_context),
             ("generate", n_generate), ("post", n_post), ("telemetry", n_telemetry)]
    for name, fn in nodes:
        graph.add_node(name, fn)
    graph.add_edge(START, "input")
    for (a, _), (b, _) in zip(nodes, nodes[1:], strict=False):
        graph.add_edge(a, b)
    graph.add_edge("telemetry", END)
    return graph.compile()


async def measure(rounds: int) -> dict[str, float]:
    graph = build_graph()

    async def via_invoke(q: str) -> Any:
        return await graph.ainvoke({"question": q})

    async def via_stream(q: str) -> Any:
        return [part async for part in graph.astream({"question": q}, stream_mode="custom")]

    for q in QUESTIONS[:5]:  # same answers both ways
        assert (await plain(q))["answer"] == (await via_invoke(q))["answer"]
    results: dict[str, list[float]] = {"plain": [], "graph_invoke": [], "graph_stream": []}
    for _ in range(3):
        for name, fn in (("plain", plain), ("graph_invoke", via_invoke),
                         ("graph_stream", via_stream)):
            started = time.perf_counter()
            for n in range(rounds):
                await fn(QUESTIONS[n % len(QUESTIONS)])
            results[name].append((time.perf_counter() - started) / rounds * 1e6)
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    figures = asyncio.run(measure(parser.parse_args().rounds))
    anchor = figures["plain"]
    print(f"plain code (anchor): {anchor:8.1f} µs per question")
    for name in ("graph_invoke", "graph_stream"):
        print(f"{name:19}: {figures[name]:8.1f} µs per question "
              f"(+{figures[name] - anchor:.1f} µs, {figures[name] / anchor:.2f}x)")


if __name__ == "__main__":
    main()
