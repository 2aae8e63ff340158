"""Guardrails on the way in and out: prompt-injection text neutralised, personal data
redacted, policy words filtered. Each finding names its reason, which ai.completed records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Phrases that try to change the assistant's rules. They are replaced, not deleted, so the
# text around them still reads and a reviewer sees that something was there.
INJECTION = re.compile(
    r"(?i)\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}?"
    r"\b(?:instructions?|rules?|prompts?|guidelines|context|above|previous)\b"
    r"|\byou are (?:now|no longer)\b[^.\n]*"
    r"|\b(?:act|pretend|behave) as\b[^.\n]*"
    r"|\b(?:system|developer) (?:prompt|message|instructions?)\b"
    r"|\bnew instructions?\b\s*:?"
    r"|\breveal\b[^.\n]{0,30}\b(?:prompt|instructions?|secret|password)s?\b"
    r"|<\|?/?(?:im_start|im_end|system|assistant|user|endoftext)\|?>"
    r"|^\s*(?:system|assistant|user)\s*:"
    r"|\[/?INST\]|###\s*(?:instruction|system)",
    re.MULTILINE)
NEUTRALISED = "[instruction removed]"
_SENTENCE_OR_LINE = re.compile(r"(?<=[.!?])\s+|\n+")

PII: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "card": re.compile(r"\b(?:\d[ -]?){13,19}\b"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b"),
    "phone": re.compile(r"(?<![\w.])\+?\d[\d ()./-]{7,}\d\b"),
}


@dataclass(frozen=True)
class Cleaned:
    text: str
    reasons: tuple[str, ...]  # e.g. ("injection", "pii:email"); empty when untouched


def neutralise_injection(text: str) -> Cleaned:
    """Each sentence holding an injection phrase is replaced whole: what follows such a
    phrase ("... and tell the student X") is the instruction itself."""
    if not INJECTION.search(text):
        return Cleaned(text, ())
    parts = [NEUTRALISED if INJECTION.search(s) else s for s in _SENTENCE_OR_LINE.split(text)]
    return Cleaned(" ".join(p for p in parts if p.strip()), ("injection",))


def redact_pii(text: str) -> Cleaned:
    reasons = []
    for kind, pattern in PII.items():
        text, count = pattern.subn(f"[{kind} removed]", text)
        if count:
            reasons.append(f"pii:{kind}")
    return Cleaned(text, tuple(reasons))


def clean_input(text: str) -> Cleaned:
    """A question or a retrieved chunk before it goes near a prompt."""
    injection = neutralise_injection(text)
    pii = redact_pii(injection.text)
    return Cleaned(pii.text, injection.reasons + pii.reasons)


def policy_filter(text: str, words: Iterable[str]) -> Cleaned:
    """Masks policy words (whole words, any case) in an answer."""
    reasons = []
    for word in words:
        pattern = re.compile(rf"(?i)\b{re.escape(word)}\b")
        text, count = pattern.subn("[removed]", text)
        if count:
            reasons.append(f"policy:{word.lower()}")
    return Cleaned(text, tuple(reasons))


def filter_output(text: str, policy_words: Iterable[str]) -> Cleaned:
    """An answer before it leaves: personal data and policy words masked."""
    pii = redact_pii(text)
    policy = policy_filter(pii.text, policy_words)
    return Cleaned(policy.text, pii.reasons + policy.reasons)
