"""The relevance gate and its calibration, and search's match quality."""

from __future__ import annotations

from uuid import uuid4

import pytest

from assistant.domain.relevance import calibrate, classify
from projections.content.search import GOOD, NONE, WEAK, SearchHit, match_quality


def test_the_threshold_separates_the_two_groups_in_the_widest_gap() -> None:
    result = calibrate([0.5, 0.62, 0.41], [0.1, 0.05, 0.2])
    assert result.threshold == pytest.approx((0.2 + 0.41) / 2, abs=1e-4)
    assert (result.accuracy, result.answerable_recall, result.refusal_recall) == (1, 1, 1)


def test_overlapping_groups_give_the_most_accurate_threshold() -> None:
    result = calibrate([0.5, 0.6, 0.15], [0.1, 0.2, 0.05])
    assert result.accuracy == pytest.approx(5 / 6)
    assert classify(0.5, result.threshold) and not classify(0.1, result.threshold)


def test_no_hit_is_never_good_enough() -> None:
    assert not classify(None, 0.0)


def _hit(score: float) -> SearchHit:
    return SearchHit(uuid4(), uuid4(), uuid4(), uuid4(), "Lesson", 0, "text", 1, score)


def test_search_reports_weak_matches_as_such() -> None:
    assert match_quality([_hit(0.05), _hit(0.02)], 0.16) == WEAK
    assert match_quality([_hit(0.05), _hit(0.6)], 0.16) == GOOD
    assert match_quality([], 0.16) == NONE
