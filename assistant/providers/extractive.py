"""The extractive provider: no model; the answer is the passages' sentences that best match
the question, each with its citation. Deterministic, so tests and the evaluation can rely on
it, and it cannot say anything the course does not say. Asked for study material
(an EnhancementPrompt), it writes it from the lesson's own sentences (domain/study_material)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from assistant.domain import study_material
from assistant.domain.enhancement import EnhancementPrompt
from assistant.domain.text import content_words, sentences
from assistant.providers.base import Prompt, Usage


class ExtractiveProvider:
    name = "extractive"

    def __init__(self, max_sentences: int = 2) -> None:
        self.max_sentences = max_sentences

    def choose(self, prompt: Prompt) -> list[tuple[int, str]]:
        asked = set(content_words(prompt.question))
        scored = []
        for order, (number, _title, text) in enumerate(prompt.passages):
            for position, sentence in enumerate(sentences(text)):
                words = set(content_words(sentence))
                if not words or "[instruction removed]" in sentence:
                    continue
                overlap = len(asked & words)
                # matched question words first, then the better-ranked passage, then order
                scored.append((-overlap, order, position, number, sentence))
        scored.sort()
        # sentences matching at least half as many question words as the best one
        floor = min(-1, scored[0][0] // 2) if scored else -1
        best = [(number, sentence) for overlap, _, _, number, sentence in scored
                if overlap <= floor][: self.max_sentences]
        if not best and scored:  # nothing shares a word: the top passage's first sentence
            first = min(scored, key=lambda s: (s[1], s[2]))
            best = [(first[3], first[4])]
        return best

    async def stream(self, prompt: Prompt | EnhancementPrompt,
                     usage: Usage) -> AsyncIterator[str]:
        if isinstance(prompt, EnhancementPrompt):  # study material: JSON lines, no model
            for line in study_material.json_lines(prompt):
                yield line
            return
        for n, (number, sentence) in enumerate(self.choose(prompt)):
            text = sentence.rstrip()
            if text[-1:] in ".!?":
                text = text[:-1] + f" [{number}]" + text[-1]
            else:
                text = f"{text} [{number}]"
            words = text.split(" ")
            for i, word in enumerate(words):
                yield (" " if (n or i) else "") + word
