"""Grounding: is each answer sentence supported by a chunk it may cite?

A sentence is supported when most of its content words (stemmed) occur in one cited chunk.
The grounding score is the share of supported sentences; a hallucinated sentence is one
that no cited chunk supports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.domain.text import content_words, sentences

CITATION_MARK = re.compile(r"\s*\[(\d+)\]")
SUPPORT = 0.7


@dataclass(frozen=True)
class SentenceCheck:
    sentence: str
    supported_by: int | None  # the citation number that supports it


@dataclass(frozen=True)
class Grounding:
    checks: tuple[SentenceCheck, ...]

    @property
    def score(self) -> float:
        if not self.checks:
            return 0.0
        return sum(1 for c in self.checks if c.supported_by is not None) / len(self.checks)

    @property
    def unsupported(self) -> list[str]:
        return [c.sentence for c in self.checks if c.supported_by is None]


def support(sentence: str, source: str) -> float:
    words = set(content_words(sentence))
    if not words:
        return 1.0
    return len(words & set(content_words(source))) / len(words)


def check(answer: str, cited: Sequence[tuple[int, str]]) -> Grounding:
    """Each answer sentence against the cited texts (number, text)."""
    results = []
    for sentence in sentences(answer):
        plain = CITATION_MARK.sub("", sentence).strip()
        if not content_words(plain):
            continue
        best = max(((support(plain, text), number) for number, text in cited),
                   default=(0.0, None))
        results.append(SentenceCheck(plain, best[1] if best[0] >= SUPPORT else None))
    return Grounding(tuple(results))
