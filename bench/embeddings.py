"""Publishing pipeline throughput and search latency, each beside its bare anchor, same run.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.embeddings [--chunks 400] [--rounds 3]

- pipeline: courses of never-seen text are published through the CommandBus (not timed),
  then the workflow handles each course.published: chunk, look up the vector cache, embed
  the misses on the worker thread, write the cache, upsert into Weaviate, mark the course
  ready, record the workflow's events and state. Chunks per second, cold cache;
- anchor: bare sentence-transformers `encode` of the very same chunk texts (same model, batch
  size, normalisation) plus a bare Weaviate batch import of them (sync client `insert_many`,
  one gRPC batch per 200 objects; the client's `batch.fixed_size` context adds about a
  second of polling, which would flatter us) into a scratch collection;
- search: p99 of `ContentSearch.search` (ready-version lookup in PostgreSQL, query embedding
  on the worker thread, filtered near-vector query) beside bare `encode` + the same filtered
  `near_vector`.
Rounds alternate pipeline and anchor, so both see the same load on the machine; the median
round of each, the ratio median over median, and every round. Needs the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from typing import Any

import weaviate
from weaviate.classes.config import Configure
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter

from bench.figures import Figure, Scale
from commands import messages as m
from projections.content.chunking import chunk_course
from projections.content.embeddings import shared_encoder
from projections.content.published import published_lessons
from projections.content.search import ContentSearch
from smartcourse.bootstrap import WriteSide, open_write_side
from smartcourse.settings import Settings
from streams.workflows.wiring import open_publishing

WORDS = ["log", "offset", "partition", "broker", "consumer", "replica", "leader", "topic",
         "record", "schema", "stream", "table", "commit", "batch", "key", "value", "lesson",
         "course", "student", "quiz", "module", "plant", "light", "sugar", "energy",
         "revolution", "assembly", "republic", "history"]
QUERIES = ["How are offsets committed?", "What does a replica do?", "How do plants use light?",
           "When was the republic proclaimed?", "What is a consumer group?"]
CHUNKS_PER_LESSON = 4  # ~360 words: 4 chunks of <= 100 words with a 20-word overlap


def fresh_text(rng: random.Random) -> str:
    """~360 words in ~12-word sentences, never embedded before (a cold cache)."""
    tag = uuid.uuid4().hex[:8]
    return " ".join(" ".join(rng.choice(WORDS) for _ in range(11)).capitalize() + f" {tag}."
                    for _ in range(30))


async def _publish_courses(side: WriteSide, chunks: int, rng: random.Random,
                           lessons_per_course: int = 5) -> list[Any]:
    courses = max(1, round(chunks / (CHUNKS_PER_LESSON * lessons_per_course)))
    published = []
    for _ in range(courses):
        teacher, course, module = m.Actor(uuid.uuid4(), "instructor"), uuid.uuid4(), uuid.uuid4()
        await side.bus.execute(m.CreateCourse(course, "Benchmark course"), teacher)
        await side.bus.execute(m.AddModule(course, module, "Module"), teacher)
        for n in range(lessons_per_course):
            await side.bus.execute(m.AddLesson(course, module, uuid.uuid4(), f"Lesson {n}",
                                               fresh_text(rng)), teacher)
        await side.bus.execute(m.PublishCourse(course, uuid.uuid4()), teacher)
        published.append((await side.store.load(course))[-1])
    return published


def _chunks_of(event: Any) -> list[Any]:
    lessons = list(published_lessons(Settings().pg_dsn, event))
    return chunk_course(event.aggregate_id, event.payload["content_version"], lessons)


async def pipeline_round(settings: Settings, chunks: int, seed: int) -> dict[str, Any]:
    side = await open_write_side(settings)
    try:
        rng = random.Random(seed)
        warmup = await _publish_courses(side, 1, rng, lessons_per_course=1)
        published = await _publish_courses(side, chunks, rng)
        async with open_publishing(settings) as workflow:
            # Not timed: the encoder thread's first call and the index's first write.
            await workflow.handle(warmup[0])
            started = time.perf_counter()
            states = [await workflow.handle(event) for event in published]
            seconds = time.perf_counter() - started
    finally:
        await side.close()
    assert all(s is not None and s.state == "READY" for s in states), states
    count = sum(len(_chunks_of(e)) for e in published)
    return {"rate": count / seconds, "chunks": count, "seconds": seconds,
            "computed": sum(s.computed for s in states if s), "published": published}


def anchor_round(settings: Settings, published: list[Any]) -> float:
    """Bare encode + bare batch import of the same chunks, from first encode to last ack."""
    chunks = [c for event in published for c in _chunks_of(event)]
    model = shared_encoder("").load()  # the SentenceTransformer itself
    collection_name = f"BenchAnchor{uuid.uuid4().hex[:10]}"
    with weaviate.connect_to_local(host=settings.host, port=settings.weaviate_port,
                                   grpc_port=settings.weaviate_grpc_port) as client:
        collection = client.collections.create(
            collection_name, vector_config=Configure.Vectors.self_provided())
        try:
            started = time.perf_counter()
            vectors = model.encode([c.embedding_text for c in chunks], batch_size=32,
                                   normalize_embeddings=True)
            objects = [DataObject(uuid=c.chunk_id, vector=v.tolist(), properties={
                "course_id": str(c.course_id), "text": c.text, "chunk_index": c.chunk_index})
                for c, v in zip(chunks, vectors, strict=True)]
            for start in range(0, len(objects), 200):  # one gRPC batch per 200, as ours
                assert not collection.data.insert_many(objects[start:start + 200]).has_errors
            seconds = time.perf_counter() - started
        finally:
            client.collections.delete(collection_name)
    return len(chunks) / seconds


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def search_latency(settings: Settings, published: list[Any],
                         queries: int) -> dict[str, float]:
    courses = [event.aggregate_id for event in published]
    ours: list[float] = []
    searcher = await ContentSearch.open(settings)
    try:
        for n in range(queries):
            started = time.perf_counter()
            hits = await searcher.search(courses[n % len(courses)], QUERIES[n % len(QUERIES)], 5)
            ours.append(1000 * (time.perf_counter() - started))
            assert hits
    finally:
        await searcher.close()
    model, bare = shared_encoder("").load(), []
    with weaviate.connect_to_local(host=settings.host, port=settings.weaviate_port,
                                   grpc_port=settings.weaviate_grpc_port) as client:
        collection = client.collections.use(settings.weaviate_collection)
        for n in range(queries):
            started = time.perf_counter()
            vector = model.encode([QUERIES[n % len(QUERIES)]], normalize_embeddings=True)[0]
            collection.query.near_vector(
                vector.tolist(), limit=5,
                filters=Filter.by_property("course_id").equal(courses[n % len(courses)])
                & Filter.by_property("content_version").equal(1))
            bare.append(1000 * (time.perf_counter() - started))
    return {"p99_ms": _p99(ours), "p50_ms": statistics.median(ours),
            "anchor_p99_ms": _p99(bare), "anchor_p50_ms": statistics.median(bare),
            "queries": queries}


def compare(settings: Settings, chunks: int, rounds: int, queries: int) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bench = Settings(weaviate_collection=f"CourseChunkBench{uuid.uuid4().hex[:8]}")
    shared_encoder("").encode(["warm the model up"])  # loading is not throughput
    ours, anchors, last = [], [], None
    try:
        for n in range(rounds):
            last = asyncio.run(pipeline_round(bench, chunks, seed=n))
            ours.append(last)
            anchors.append(anchor_round(bench, last["published"]))
        assert last is not None
        search = asyncio.run(search_latency(bench, last["published"], queries))
    finally:
        _drop(bench)
    return {"rate": statistics.median(r["rate"] for r in ours),
            "anchor_rate": statistics.median(anchors),
            "rounds": [round(r["rate"], 1) for r in ours],
            "anchor_rounds": [round(a, 1) for a in anchors], "chunks_per_round": ours[0]["chunks"],
            "computed_per_round": ours[0]["computed"], **search}


def _drop(settings: Settings) -> None:
    with weaviate.connect_to_local(host=settings.host, port=settings.weaviate_port,
                                   grpc_port=settings.weaviate_grpc_port) as client:
        client.alias.delete(alias_name=settings.weaviate_collection)
        for name in client.collections.list_all(simple=True):
            if name.startswith(f"{settings.weaviate_collection}_v"):
                client.collections.delete(name)


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    small = scale == Scale.SMALL
    r = compare(settings, chunks=40 if small else 400, rounds=2 if small else 3,
                queries=100 if small else 500)
    details = dict(r)
    return [
        Figure(benchmark="embed pipeline",
               metric="chunks/s published -> ready (chunk, cache, embed, index, commands)",
               ours=round(r["rate"], 1), anchor=round(r["anchor_rate"], 1),
               anchor_name="bare sentence-transformers encode + Weaviate batch import",
               target=">= 50% of the bare path", met=r["rate"] >= 0.5 * r["anchor_rate"],
               details=details),
        Figure(benchmark="search p99", metric="ms p99 of semantic search (k=5)",
               ours=round(r["p99_ms"], 1), anchor=round(r["anchor_p99_ms"], 1),
               anchor_name="bare encode + filtered near_vector",
               target="<= 2x the bare path", met=r["p99_ms"] <= 2 * r["anchor_p99_ms"],
               details=details),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    r = compare(Settings(), args.chunks, args.rounds, args.queries)
    print(f"{r['chunks_per_round']} chunks per round ({r['computed_per_round']} embedded), "
          f"median of {args.rounds} rounds")
    print(f"  rounds, pipeline chunks/s: {r['rounds']}")
    print(f"  rounds, anchor chunks/s:   {r['anchor_rounds']}")
    print(f"pipeline: {r['rate']:.1f} chunks/s; anchor: {r['anchor_rate']:.1f} chunks/s; "
          f"ratio {r['rate'] / r['anchor_rate']:.2f} (target >= 0.50)")
    print(f"search: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; anchor p50 "
          f"{r['anchor_p50_ms']:.1f} ms, p99 {r['anchor_p99_ms']:.1f} ms ({r['queries']} queries)")


if __name__ == "__main__":
    main()
