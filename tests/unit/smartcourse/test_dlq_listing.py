"""`smartcourse dlq list`: an empty queue says so; letters are one line each."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from smartcourse.cli.dlq import listing


def letter(id_: int, replayed: bool = False) -> SimpleNamespace:
    return SimpleNamespace(id=id_, projection="course_catalog", aggregate_id=None,
                           reason="undecodable", error="not avro " * 30,
                           replayed_at=datetime(2026, 1, 1, tzinfo=UTC) if replayed else None)


def test_an_empty_queue_says_so() -> None:
    assert listing([], None, False) == ["no dead letters waiting"]
    assert listing([], "course_catalog", True) == ["no dead letters for course_catalog"]


def test_each_letter_is_one_line_with_its_state() -> None:
    lines = listing([letter(1), letter(2, replayed=True)], None, True)
    assert [line.split("\t")[:5] for line in lines] == [
        ["1", "course_catalog", "-", "undecodable", "waiting"],
        ["2", "course_catalog", "-", "undecodable", "replayed"]]
    assert all(len(line.split("\t")[5]) == 120 for line in lines)
