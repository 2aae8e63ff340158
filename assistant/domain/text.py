"""Sentences, words and normalised questions: the small text tools the pipeline shares."""

from __future__ import annotations

import re
import unicodedata

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)|\n\s*\n")
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
_STOPWORDS = """
a about above after again all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had
has have having he her here hers him his how i if in into is it its itself just me more most
my no nor not now of off on once only or other our out over own same she should so some
such than that the their them then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def stem(word: str) -> str:
    """A light suffix strip, enough to match 'merging' with 'merge' and 'tags' with 'tag'."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, stemmed words that carry meaning (stop words left out)."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def normalise_question(text: str) -> str:
    """The form a question is cached under: case, spacing and end punctuation removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", re.sub(r"[?!.\s]+$", "", folded)).strip()
