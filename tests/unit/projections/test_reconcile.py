"""Reconciliation's comparison: what counts as drift between the events and a store."""

from __future__ import annotations

from uuid import uuid4

from projections.reconcile import Report, compare


def test_missing_unexpected_state_and_progress_drift_are_told_apart() -> None:
    same, gone, wrong_state, behind, extra = (uuid4() for _ in range(5))
    truth = {same: ("ACTIVE", 1, 4), gone: ("PENDING", 0, 1), wrong_state: ("CANCELLED", 0, 3),
             behind: ("ACTIVE", 2, 5)}
    seen = {same: ("ACTIVE", 1), wrong_state: ("ACTIVE", 0), behind: ("ACTIVE", 1),
            extra: ("PENDING", 0)}

    drifts = {d.kind: d.ids for d in compare("student_enrollments", truth, seen)}

    assert drifts == {"missing": [gone], "unexpected": [extra], "state": [wrong_state],
                      "progress": [behind]}


def test_agreeing_stores_report_no_drift() -> None:
    one = uuid4()
    assert compare("course_roster", {one: ("COMPLETED", 3, 6)}, {one: ("COMPLETED", 3)}) == []


def test_the_report_counts_and_shows_examples() -> None:
    ids = sorted(uuid4() for _ in range(7))
    report = Report(checked={"student_enrollments": 10})
    report.drifts += compare("student_enrollments", {i: ("ACTIVE", 0, 2) for i in ids}, {})

    lines = report.lines(examples=2)

    assert report.total == 7
    assert f"DRIFT student_enrollments missing: 7 (e.g. {ids[0]}, {ids[1]})" in lines
    assert lines[-1] == "drift total: 7"
