"""The enrollment anomaly rule, on given counts."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from projections.analytics.trends import assess, trailing_history

COURSE = uuid4()
DAY = date(2026, 3, 29)


def test_a_day_far_above_the_trailing_band_is_flagged() -> None:
    history = [10, 12] * 14  # mean 11, population stddev 1
    result = assess(COURSE, DAY, 15, history)
    assert (result.mean, result.stddev, result.lower, result.upper) == (11.0, 1.0, 8.0, 14.0)
    assert result.is_anomaly and result.history_days == 28


@pytest.mark.parametrize("today", [8, 11, 14])
def test_a_day_inside_the_band_is_not(today: int) -> None:
    assert not assess(COURSE, DAY, today, [10, 12] * 14).is_anomaly


def test_a_drop_below_the_band_is_flagged_too() -> None:
    assert assess(COURSE, DAY, 0, [10, 12] * 14).is_anomaly


def test_too_little_history_flags_nothing() -> None:
    result = assess(COURSE, DAY, 500, [1, 1, 1], min_history_days=7)
    assert not result.is_anomaly and result.history_days == 3


def test_history_counts_quiet_days_as_zero_since_the_first_enrollment() -> None:
    counts = {date(2026, 3, 20): 4, date(2026, 3, 27): 2, DAY: 9}
    history = trailing_history(counts, date(2026, 3, 20), DAY, window_days=28)
    assert history == [4, 0, 0, 0, 0, 0, 0, 2, 0]  # 20th to 28th; the day itself excluded


def test_history_is_the_window_for_an_old_course() -> None:
    history = trailing_history({}, date(2020, 1, 1), DAY, window_days=28)
    assert history == [0] * 28


def test_no_enrollments_ever_means_no_history() -> None:
    assert trailing_history({}, None, DAY, window_days=28) == []
