"""When retrieval is weak: a threshold on the best chunk's cosine similarity.

The threshold is calibrated on the shipped evaluation set (`calibrate`): the best score of
each answerable question and of each question the course cannot answer; the threshold is the
midpoint of the gap that classifies most of them right (ties: the widest gap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    threshold: float
    accuracy: float  # share of questions classified right at the threshold
    answerable_recall: float  # answerable questions at or above it
    refusal_recall: float  # unanswerable questions below it


def classify(best_score: float | None, threshold: float) -> bool:
    """True when the best match is good enough to answer from."""
    return best_score is not None and best_score >= threshold


def calibrate(answerable: Sequence[float], unanswerable: Sequence[float]) -> Calibration:
    """The threshold that best separates the two groups of best-chunk scores."""
    if not answerable or not unanswerable:
        raise ValueError("need scores of both answerable and unanswerable questions")
    scores = sorted(set(answerable) | set(unanswerable))
    candidates = [(a + b) / 2 for a, b in zip(scores, scores[1:], strict=False)]
    candidates = candidates or [scores[0]]
    total = len(answerable) + len(unanswerable)

    def result(threshold: float) -> Calibration:
        hits = sum(1 for s in answerable if s >= threshold)
        refusals = sum(1 for s in unanswerable if s < threshold)
        return Calibration(round(threshold, 4), (hits + refusals) / total,
                           hits / len(answerable), refusals / len(unanswerable))

    def gap(threshold: float) -> float:
        below = max((s for s in scores if s < threshold), default=threshold)
        above = min((s for s in scores if s >= threshold), default=threshold)
        return above - below

    best = max(candidates, key=lambda t: (result(t).accuracy, gap(t)))
    return result(best)
