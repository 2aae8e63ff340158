"""Projection lag: in events behind the relay, in seconds while behind, 0 when caught up."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from query_api.positions import ProjectionRow

NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
ROW = ProjectionRow(name="course_catalog", state="live", live_version=1, rebuild_version=None,
                    rebuild_position=None, position=90, moved_at=NOW - timedelta(seconds=4),
                    relay_position=100, checked_at=NOW)


def test_a_projection_behind_the_relay_lags_in_events_and_seconds() -> None:
    assert ROW.lag_events == 10
    assert ROW.lag_seconds == 4.0


def test_a_caught_up_projection_has_no_lag() -> None:
    caught_up = replace(ROW, position=100)
    assert (caught_up.lag_events, caught_up.lag_seconds) == (0, 0.0)
    ahead = replace(ROW, position=120)  # replayed from the store, ahead of the relay
    assert (ahead.lag_events, ahead.lag_seconds) == (0, 0.0)


def test_without_a_relay_the_lag_in_events_is_unknown() -> None:
    no_relay = replace(ROW, relay_position=None)
    assert (no_relay.lag_events, no_relay.lag_seconds) == (None, 0.0)
