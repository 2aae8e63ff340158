"""What a benchmark reports: its figure beside the raw anchor measured in the same run."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Scale(StrEnum):
    SMALL = "small"  # the whole suite in under 3 minutes: a smoke test of every path
    FULL = "full"  # long enough to be stable: up to 20 minutes


@dataclass
class Figure:
    benchmark: str
    metric: str  # what `ours` and `anchor` count, e.g. "events/s"
    ours: float
    anchor_name: str = ""
    anchor: float | None = None
    target: str = ""  # the product target, in words
    met: bool | None = None  # whether `ours` meets the target (None: no target)
    details: dict[str, Any] = field(default_factory=dict)
    peak_rss_mb: float | None = None  # filled in by the suite

    @property
    def ratio(self) -> float | None:
        return round(self.ours / self.anchor, 3) if self.anchor else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def median_of(rounds: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    """Median of repeated measurements (and all of them, for the record)."""
    values = [measure() for _ in range(rounds)]
    return statistics.median(values), values


def median_round(rounds: list[dict[str, Any]], key: str = "p99_ms") -> dict[str, Any]:
    """The round with the median `key` (a latency round's other figures go with it)."""
    return sorted(rounds, key=lambda r: r[key])[len(rounds) // 2]
