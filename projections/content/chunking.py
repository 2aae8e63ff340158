"""Deterministic chunking of lesson text: the same lesson always gives the same chunks.

Pure (no I/O, no clock, no randomness), so the live workflow and a Weaviate rebuild from the
event store produce identical chunks, ids and hashes. Sizes are counted in words, a stable
stand-in for model tokens (all-MiniLM-L6-v2 turns an English word into ~1.3 word pieces, so
100 words stay well inside its 256-piece window, with room for the lesson title).

Sentences are packed whole while they fit; a sentence longer than a chunk is cut into
pieces. Consecutive chunks of a lesson share up to `overlap` trailing words, so a passage
cut at a boundary is still found whole in one of them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

CHUNK_NAMESPACE = UUID("0b6f7d0e-9a7c-5c55-8d0c-6a1f3e2b4c5d")
MAX_WORDS = 100
OVERLAP_WORDS = 20
CHUNKER = f"sentences-v1/{MAX_WORDS}/{OVERLAP_WORDS}"  # recorded in content.chunked

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


@dataclass(frozen=True)
class Lesson:
    """A lesson as `course.published` carries it: its text by value (events from before the
    reference) or by reference (`content` None, the text's hash; projections/content/
    published.py reads the text from the store)."""

    lesson_id: UUID
    module_id: UUID
    title: str
    content: str | None
    content_sha256: str | None = field(default=None, compare=False)

    @classmethod
    def from_payload(cls, item: dict[str, Any]) -> Lesson:
        return cls(UUID(str(item["lesson_id"])), UUID(str(item["module_id"])), item["title"],
                   item.get("content"), item.get("content_sha256"))


@dataclass(frozen=True)
class Chunk:
    chunk_id: UUID
    course_id: UUID
    lesson_id: UUID
    module_id: UUID
    lesson_title: str
    chunk_index: int  # within its lesson
    content_version: int
    text: str
    content_hash: str  # SHA-256 of `embedding_text`: the vector cache's key

    @property
    def embedding_text(self) -> str:
        return embedding_text(self.lesson_title, self.text)


def embedding_text(title: str, text: str) -> str:
    """What is embedded: the title gives a chunk the lesson's topic."""
    return f"{title}\n{text}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def chunk_id(course_id: UUID, lesson_id: UUID, chunk_index: int, content_version: int) -> UUID:
    """The chunk's id, in the store and in Weaviate: reprocessing overwrites, never adds."""
    return uuid5(CHUNK_NAMESPACE, f"{course_id}:{lesson_id}:{chunk_index}:{content_version}")


def split_words(text: str, max_words: int = MAX_WORDS,
                overlap: int = OVERLAP_WORDS) -> list[list[str]]:
    """The words of each chunk: at most `max_words`, sharing up to `overlap` with the last."""
    if not 0 <= overlap < max_words:
        raise ValueError("need 0 <= overlap < max_words")
    step = max_words - overlap  # a long sentence's pieces leave room for the overlap
    units: list[list[str]] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        units += [words[i:i + step] for i in range(0, len(words), step)]
    chunks: list[list[str]] = []
    current: list[list[str]] = []
    for unit in units:
        if current and _count(current) + len(unit) > max_words:
            chunks.append(_flat(current))
            current = _overlap(current, overlap)
            if _count(current) + len(unit) > max_words:
                current = []
        current.append(unit)
    if current:  # it always ends with a unit not yet in a chunk
        chunks.append(_flat(current))
    return chunks


def _count(units: Sequence[Sequence[str]]) -> int:
    return sum(len(u) for u in units)


def _flat(units: Iterable[Sequence[str]]) -> list[str]:
    return [word for unit in units for word in unit]


def _overlap(units: list[list[str]], overlap: int) -> list[list[str]]:
    """The trailing whole sentences within `overlap` words, else the last `overlap` words."""
    carried: list[list[str]] = []
    for unit in reversed(units):
        if _count(carried) + len(unit) > overlap:
            break
        carried.insert(0, unit)
    if not carried and overlap:
        carried = [units[-1][-overlap:]]
    return carried


def chunk_lesson(course_id: UUID, content_version: int, lesson: Lesson,
                 max_words: int = MAX_WORDS, overlap: int = OVERLAP_WORDS) -> list[Chunk]:
    chunks = []
    for index, words in enumerate(split_words(lesson.content, max_words, overlap)):
        text = " ".join(words)
        chunks.append(Chunk(
            chunk_id=chunk_id(course_id, lesson.lesson_id, index, content_version),
            course_id=course_id, lesson_id=lesson.lesson_id, module_id=lesson.module_id,
            lesson_title=lesson.title, chunk_index=index, content_version=content_version,
            text=text, content_hash=text_hash(embedding_text(lesson.title, text)),
        ))
    return chunks


def chunk_course(course_id: UUID, content_version: int,
                 lessons: Iterable[Lesson]) -> list[Chunk]:
    """Every lesson's chunks, in the course's lesson order."""
    return [c for lesson in lessons for c in chunk_lesson(course_id, content_version, lesson)]


def content_hash(chunks: Iterable[Chunk]) -> str:
    """One hash over a whole version's chunks (ids and texts), in order."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(f"{chunk.chunk_id}:{chunk.content_hash}\n".encode())
    return digest.hexdigest()


def lesson_summaries(chunks: Sequence[Chunk]) -> list[dict[str, Any]]:
    """Per lesson: how many chunks and a hash of them (the payload of content.chunked)."""
    by_lesson: dict[UUID, list[Chunk]] = {}
    for chunk in chunks:
        by_lesson.setdefault(chunk.lesson_id, []).append(chunk)
    return [{"lesson_id": str(lesson_id), "chunk_count": len(own),
             "content_hash": content_hash(own)} for lesson_id, own in by_lesson.items()]
