"""Chunking: bounded, overlapping, complete, and the same chunks and ids for the same input."""

from __future__ import annotations

import random
from uuid import uuid4

import pytest

from projections.content.chunking import (
    MAX_WORDS,
    OVERLAP_WORDS,
    Lesson,
    chunk_course,
    chunk_id,
    chunk_lesson,
    content_hash,
    lesson_summaries,
    split_words,
    text_hash,
)

VOCABULARY = ["log", "offset", "partition", "broker", "consumer", "replica", "leader", "topic",
              "record", "schema", "stream", "table", "commit", "batch", "key", "value"]


def prose(seed: int, sentences: int, longest: int = 30) -> str:
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        words = [rng.choice(VOCABULARY) for _ in range(rng.randint(1, longest))]
        out.append(" ".join(words).capitalize() + rng.choice([".", "!", "?"]))
        if rng.random() < 0.1:
            out.append("\n\n")
    return " ".join(out)


def lesson(content: str, title: str = "Logs") -> Lesson:
    return Lesson(uuid4(), uuid4(), title, content)


def overlap_of(before: list[str], after: list[str]) -> int:
    """The longest suffix of `before` that `after` starts with."""
    return max((n for n in range(min(len(before), len(after)) + 1)
                if before[len(before) - n:] == after[:n]), default=0)


@pytest.mark.parametrize("seed", range(25))
def test_chunks_are_bounded_overlap_and_cover_every_word(seed: int) -> None:
    text = prose(seed, sentences=random.Random(seed).randint(1, 60),
                 longest=[12, 30, 250][seed % 3])
    chunks = split_words(text)

    assert all(0 < len(c) <= MAX_WORDS for c in chunks)
    rebuilt = list(chunks[0])
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = overlap_of(before, after)
        assert shared <= OVERLAP_WORDS
        assert shared < len(after)  # every chunk brings new words
        rebuilt += after[shared:]
    assert rebuilt == text.split()  # nothing lost, nothing repeated beyond the overlap


def test_a_long_sentence_is_cut_with_overlap() -> None:
    words = [f"w{i}" for i in range(250)]

    chunks = split_words(" ".join(words) + ".")

    assert [len(c) for c in chunks] == [80, 100, 100, 30]
    assert chunks[1][:OVERLAP_WORDS] == chunks[0][-OVERLAP_WORDS:]


def test_short_sentences_are_packed_whole_and_overlap_by_whole_sentences() -> None:
    text = " ".join(f"Sentence {i} has exactly seven words here." for i in range(30))

    chunks = split_words(text)

    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk[0] == "Sentence" and chunk[-1] == "here."  # never cut mid-sentence
    assert chunks[1][:14] == chunks[0][-14:]  # two whole sentences (14 words <= 20)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_empty_content_has_no_chunks(text: str) -> None:
    assert split_words(text) == []
    assert chunk_lesson(uuid4(), 1, lesson(text)) == []


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="overlap"):
        split_words("a b c", max_words=10, overlap=10)


def test_the_same_lesson_gives_the_same_chunks_ids_and_hashes() -> None:
    course, text = uuid4(), prose(7, 40)
    first = lesson(text)

    again = chunk_lesson(course, 3, Lesson(first.lesson_id, first.module_id, first.title, text))

    assert chunk_lesson(course, 3, first) == again
    assert [c.chunk_index for c in again] == list(range(len(again)))


def test_ids_name_course_lesson_index_and_version() -> None:
    course, lesson_id = uuid4(), uuid4()
    ids = {chunk_id(course, lesson_id, i, v) for i in range(3) for v in (1, 2)}

    assert len(ids) == 6
    assert chunk_id(course, lesson_id, 0, 1) == chunk_id(course, lesson_id, 0, 1)
    assert chunk_id(course, lesson_id, 0, 1).version == 5


def test_the_hash_covers_the_embedded_text_and_not_the_version() -> None:
    course, item = uuid4(), lesson("Kafka keeps an ordered log. " * 3)
    v1, v2 = chunk_lesson(course, 1, item), chunk_lesson(course, 2, item)
    renamed = Lesson(item.lesson_id, item.module_id, "Other", item.content)
    retitled = chunk_lesson(course, 1, renamed)

    assert [c.content_hash for c in v1] == [c.content_hash for c in v2]  # cache hits on republish
    assert [c.chunk_id for c in v1] != [c.chunk_id for c in v2]
    assert v1[0].content_hash != retitled[0].content_hash  # the title is embedded too
    assert v1[0].content_hash == text_hash(v1[0].embedding_text)
    assert v1[0].embedding_text.startswith("Logs\n")


def test_a_course_is_chunked_lesson_by_lesson_and_summarised() -> None:
    course = uuid4()
    lessons = [lesson(prose(seed, 30), f"L{seed}") for seed in range(3)]

    chunks = chunk_course(course, 1, lessons)
    summaries = lesson_summaries(chunks)

    assert [s["lesson_id"] for s in summaries] == [str(item.lesson_id) for item in lessons]
    assert sum(s["chunk_count"] for s in summaries) == len(chunks)
    assert content_hash(chunks) != content_hash(chunks[:-1])
    assert content_hash(chunks) == content_hash(chunk_course(course, 1, lessons))
