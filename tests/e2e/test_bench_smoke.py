"""`smartcourse bench --scale small` runs every benchmark end to end and reports each figure
beside its anchor. It asserts that the figures exist, never how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.suite import BENCHMARKS
from smartcourse.settings import Settings


@pytest.mark.timeout(1800)  # every benchmark of the suite, each with its anchor, in turn
def test_small_suite_produces_every_figure(stack: Settings, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "smartcourse", "bench", "--scale", "small", "--out", str(out)],
        capture_output=True, text=True, timeout=1700,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    report = json.loads(out.read_text())
    assert report["machine"]["cores"] and report["machine"]["services"]["kafka"]
    by_name = {r["name"]: r for r in report["results"]}
    assert set(by_name) == set(BENCHMARKS)
    for name, result in by_name.items():
        assert not result["error"], f"{name}: {result['error']}"
        assert result["figures"], f"{name} reported no figure"
        for figure in result["figures"]:
            assert figure["ours"] > 0, f"{name}: {figure}"
            assert figure["anchor"] is None or figure["anchor"] > 0, f"{name}: {figure}"
            assert figure["peak_rss_mb"] > 0
    for line in ("benchmark", *{f["benchmark"] for r in by_name.values()
                                for f in r["figures"]}):
        assert line in run.stdout
