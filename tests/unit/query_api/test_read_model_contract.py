"""The query API's side of docs/read-models.md: the projections and views it reads exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import query_api
from projections.registry import PROJECTIONS
from query_api import positions

READ = [positions.COURSE_CATALOG, positions.COURSE_DETAIL, positions.INSTRUCTOR_COURSES,
        positions.STUDENT_ENROLLMENTS, positions.COURSE_ROSTER]


@pytest.mark.parametrize("name", READ)
def test_every_projection_read_is_registered(name: str) -> None:
    assert name in PROJECTIONS


def test_every_view_queried_belongs_to_a_projection() -> None:
    views = {view for p in PROJECTIONS.values() for view in p.views}
    reads = Path(query_api.__file__).parent / "reads"
    queried = {m for f in reads.glob("*.py")
               for m in re.findall(r"read_models\.(\w+)", f.read_text())}
    assert queried and queried <= views
