"""The console's pure pieces: charts, log lines, CSRF tokens, the redirect after login."""

from __future__ import annotations

import json
from pathlib import Path

from operations.console import auth, charts, sources
from operations.console.app import _local


def test_bars_scale_to_the_largest_value_and_escape_labels() -> None:
    svg = charts.bars(["a<b", "c"], [charts.Series("events", [2, 4], "#000")], "t&t")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "a&lt;b" in svg and "t&amp;t" in svg and "a<b" not in svg
    heights = [float(part.split('"')[0]) for part in svg.split('height="')[2:4]]
    assert heights[1] == 2 * heights[0]  # 4 is twice 2


def test_bars_without_data_draw_an_empty_axis() -> None:
    svg = charts.bars([], [charts.Series("events", [], "#000")], "nothing")
    assert "<line" in svg and "fill=\"#000\"><title>" not in svg


def test_band_marks_a_flagged_value_red() -> None:
    assert "#c0392b" in charts.band(10, 1, 3, "x", flagged=True)
    assert "#2e7d32" in charts.band(10, 0, 0, "x", flagged=False)  # too little history


def test_parse_line_keeps_warnings_and_errors_with_their_trace() -> None:
    trace = "0af7651916cd43dd8448eb211c80319c"
    line = json.dumps({"ts": "t", "level": "error", "logger": "l", "message": "boom",
                       "trace_id": trace, "route": "/x"})
    entry = sources.parse_line("command-api", line, sources.ERROR_LEVELS)
    assert entry is not None and entry.trace_id == trace and entry.extra == {"route": "/x"}
    info = json.dumps({"level": "info", "message": "fine"})
    assert sources.parse_line("p", info, sources.ERROR_LEVELS) is None
    assert sources.parse_line("p", "--- starting x", sources.ERROR_LEVELS) is None
    no_trace = json.dumps({"level": "warning", "message": "m", "trace_id": "0"})
    assert sources.parse_line("p", no_trace, sources.ERROR_LEVELS).trace_id is None


def test_recent_errors_newest_first_across_processes(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(
        json.dumps({"ts": "2026-01-01T00:00:01", "level": "error", "message": "a1"}) + "\n"
        + json.dumps({"ts": "2026-01-01T00:00:03", "level": "warning", "message": "a3"}) + "\n")
    (tmp_path / "b.log").write_text(
        json.dumps({"ts": "2026-01-01T00:00:02", "level": "critical", "message": "b2"}) + "\n")
    found = sources.recent_errors(tmp_path, ["a", "b", "missing"])
    assert [e.message for e in found] == ["a3", "b2", "a1"]
    only_errors = sources.recent_errors(tmp_path, ["a", "b"], levels=("error", "critical"))
    assert [e.message for e in only_errors] == ["b2", "a1"]


def test_csrf_token_is_bound_to_the_session() -> None:
    token = auth.csrf_token("access-1")
    auth.check_csrf("access-1", token)
    for wrong in (None, "", auth.csrf_token("access-2")):
        try:
            auth.check_csrf("access-1", wrong)
        except auth.CsrfRefused:
            continue
        raise AssertionError(f"accepted {wrong!r}")


def test_after_login_only_a_local_path() -> None:
    assert _local("/dlq/3") == "/dlq/3"
    assert _local("//evil.example/") == "/"
    assert _local("https://evil.example/") == "/"
