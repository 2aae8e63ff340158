"""The replay collects garbage seldom while it runs and gives the collector back after."""

from __future__ import annotations

import gc

import pytest

from projections.replay import REPLAY_GC_THRESHOLDS, _few_collections


def test_the_thresholds_are_raised_while_replaying_and_restored_after() -> None:
    before = gc.get_threshold()
    with _few_collections():
        assert gc.get_threshold() == REPLAY_GC_THRESHOLDS
    assert gc.get_threshold() == before


def test_an_interrupted_replay_restores_the_thresholds_too() -> None:
    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt), _few_collections():
        raise KeyboardInterrupt
    assert gc.get_threshold() == before
