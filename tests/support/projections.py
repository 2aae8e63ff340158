"""Types shared by the projections' tests."""

from __future__ import annotations

from collections.abc import Callable

from projections.base import Projection

Make = Callable[[str], Projection]  # makes a private copy of a projection by name
