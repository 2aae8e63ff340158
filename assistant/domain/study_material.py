"""Study material from a lesson without a model (the `extractive` provider's enhancement):
deterministic, and it cannot say anything the lesson does not say.

- summary: the lesson's most central sentences (each scored by the words it shares with the
  others, as in TextRank's first step), in the lesson's order;
- objectives: the lesson's headings, else its most distinctive terms (frequent here, rare in
  the course's other lessons);
- questions: a central sentence with one distinctive term blanked out; the wrong options are
  distinctive terms of the course's other lessons (then of this one) absent from the sentence.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterator

from assistant.domain.enhancement import REMOVED, EnhancementPrompt, Material
from assistant.domain.text import STOPWORDS, content_words, sentences, stem

_TERM = re.compile(r"[A-Za-z][A-Za-z\-]{3,}")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SUMMARY_SENTENCES = 3
DISTRACTORS = 3
# Words that are frequent in lessons but never a term worth asking about.
_PLAIN_WORDS = """
also always another away back even ever every first last like makes make many much never
next often once one only shows show still then there thing things through together two
uses used using want when where which while without explains explain called gives given
"""
_PLAIN = frozenset(_PLAIN_WORDS.split())


def _terms(text: str) -> list[str]:
    return [w.lower() for w in _TERM.findall(text)
            if w.lower() not in STOPWORDS and w.lower() not in _PLAIN]


def _same(a: str, b: str) -> bool:
    """One term in two forms ('branch', 'branches'; 'file', 'files')."""
    return stem(a) == stem(b) or a.rstrip("s") == b.rstrip("s")


def distinctive_terms(text: str, others: tuple[str, ...], limit: int = 12) -> list[str]:
    """The text's terms by tf-idf against the other texts, best first (ties by the word)."""
    counts = Counter(_terms(text))
    documents = [set(_terms(o)) for o in others]
    scored = []
    for term, tf in counts.items():
        df = sum(1 for d in documents if term in d)
        scored.append((-(tf * math.log((1 + len(documents)) / (1 + df))), term))
    scored.sort()
    chosen: list[str] = []
    for _, term in scored:
        if not any(_same(term, c) for c in chosen):
            chosen.append(term)
        if len(chosen) == limit:
            break
    return chosen


def course_terms(material: Material, per_lesson: int = 4) -> tuple[str, ...]:
    """Distinctive terms of the course's other lessons: the wrong options' pool."""
    pool: list[str] = []
    lessons = material.other_lessons
    for n, text in enumerate(lessons):
        rest = (*lessons[:n], *lessons[n + 1:], material.content)
        pool += [t for t in distinctive_terms(text, rest, per_lesson) if t not in pool]
    return tuple(pool)


def _lesson_sentences(material: Material) -> list[tuple[int, str]]:
    """(passage number, sentence) of the lesson's body (headings left out)."""
    headings = [" ".join(m.group(0).split()) for m in _HEADING.finditer(material.content)]
    found = []
    for number, passage in enumerate(material.passages, start=1):
        for heading in headings:  # chunks join lines: a heading is inline there
            passage = passage.replace(heading, "\n\n")
        for sentence in sentences(passage):
            if REMOVED.search(sentence):  # what the guardrails took out is never material
                continue
            if len(content_words(sentence)) >= 4 and all(sentence != s for _, s in found):
                found.append((number, sentence))
    return found


def central(items: list[tuple[int, str]]) -> list[int]:
    """Indexes of `items` by centrality, most central first (ties: the earlier)."""
    words = [set(content_words(s)) for _, s in items]
    scores = []
    for i, wi in enumerate(words):
        score = sum(len(wi & wj) / (math.log(len(wi) + 1) + math.log(len(wj) + 1))
                    for j, wj in enumerate(words) if j != i and wi and wj)
        scores.append((-round(score, 9), i))
    return [i for _, i in sorted(scores)]


def _shuffled(prompt: str, options: list[str]) -> list[str]:
    """A fixed order that does not always put the answer first."""
    return sorted(options, key=lambda o: hashlib.sha256(f"{prompt}|{o}".encode()).hexdigest())


def _blank(sentence: str, term: str) -> str | None:
    pattern = re.compile(rf"\b{re.escape(term)}\b", re.IGNORECASE)
    if len(pattern.findall(sentence)) != 1:
        return None
    return pattern.sub("_____", sentence)


def items(prompt: EnhancementPrompt) -> Iterator[dict[str, object]]:
    """The summary, objectives and questions, in that order, as provider items."""
    material = prompt.material
    body = _lesson_sentences(material)
    if not body:
        return
    ranked = central(body)
    top = sorted(ranked[:SUMMARY_SENTENCES])
    yield {"type": "summary", "text": " ".join(body[i][1] for i in top),
           "passages": sorted({body[i][0] for i in top})}

    own = distinctive_terms(material.content, material.other_lessons)
    headings = [h.strip() for h in _HEADING.findall(material.content)]
    objectives = [f"Describe {h}" for h in headings][: prompt.objectives]
    for term in own:
        if len(objectives) >= prompt.objectives:
            break
        where = next((n for n, s in body if re.search(rf"\b{re.escape(term)}\b", s, re.I)), 1)
        objectives.append(f"Explain what {term} means in {material.title} (passage {where})")
    for text in objectives:
        where = [int(m) for m in re.findall(r"passage (\d+)\)$", text)] or [1]
        yield {"type": "objective", "text": re.sub(r" \(passage \d+\)$", "", text),
               "passages": where}

    pool = [t for t in prompt.terms if t not in own] + own
    made, used = 0, set()
    for i in ranked:
        if made >= prompt.questions:
            break
        number, sentence = body[i]
        present = _terms(sentence)
        for term in own:
            if term in used:
                continue
            blanked = _blank(sentence, term)
            if blanked is None:
                continue
            wrong = [t for t in pool
                     if not _same(t, term) and not any(_same(t, w) for w in present)]
            if len(wrong) < DISTRACTORS:
                continue
            turn = int(hashlib.sha256(sentence.encode()).hexdigest(), 16)
            start = turn % (len(wrong) - DISTRACTORS + 1)
            question = f"Fill in the blank ({material.title}): {blanked}"
            options = _shuffled(question, [term, *wrong[start:start + DISTRACTORS]])
            yield {"type": "question", "prompt": question, "options": options,
                   "correct": options.index(term),
                   "explanation": f'The lesson "{material.title}" says: "{sentence}"',
                   "passage": number, "quote": sentence}
            used.add(term)
            made += 1
            break


def json_lines(prompt: EnhancementPrompt) -> Iterator[str]:
    for item in items(prompt):
        yield json.dumps(item, ensure_ascii=False) + "\n"
