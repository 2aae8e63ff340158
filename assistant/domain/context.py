"""The context builder: the retrieved chunks a prompt may use, deduplicated, cleaned, cut
to a token budget, each with the citation number the answer refers to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from assistant.domain.guardrails import clean_input
from assistant.domain.text import content_words


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, as the pipeline uses it."""

    chunk_id: UUID
    lesson_id: UUID
    module_id: UUID
    lesson_title: str
    chunk_index: int
    text: str
    similarity: float  # cosine similarity to the question
    rank_score: float = 0.0  # the hybrid (BM25 + vector) score it was ranked by


@dataclass(frozen=True)
class Citation:
    number: int
    passage: Passage
    text: str  # the passage's text after guardrails
    injection_removed: bool


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))


def build_context(passages: Sequence[Passage], count_tokens: Callable[[str], int],
                  budget: int, top_k: int = 4, near_duplicate: float = 0.8) -> list[Citation]:
    """The best passages first, skipping repeats (same chunk, or mostly the same words as a
    chosen one: chunks overlap at their boundaries), until `top_k` or the token budget."""
    chosen: list[Citation] = []
    seen_words: list[set[str]] = []
    seen_ids: set[UUID] = set()
    used = 0
    for passage in passages:
        if len(chosen) >= top_k:
            break
        if passage.chunk_id in seen_ids:
            continue
        words = set(content_words(passage.text))
        if any(_overlap(words, other) >= near_duplicate for other in seen_words):
            continue
        cleaned = clean_input(passage.text)
        cost = count_tokens(cleaned.text)
        if chosen and used + cost > budget:
            break
        used += cost
        seen_ids.add(passage.chunk_id)
        seen_words.append(words)
        chosen.append(Citation(len(chosen) + 1, passage, cleaned.text,
                               "injection" in cleaned.reasons))
    return chosen
