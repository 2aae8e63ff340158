"""The benchmark suite: runs benchmarks against the real local stack, one process each (so
each has its own peak RSS), prints a table and writes JSON with machine info and versions.

    .venv/bin/smartcourse bench [NAME…] [--scale small|full] [--out results.json]
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.figures import Figure, Scale
from infra import stack
from infra.versions import versions
from smartcourse.settings import PROJECT_ROOT, Settings

# name -> module exposing `measure(settings, scale) -> list[Figure]`
BENCHMARKS = {
    "command_path": "bench.command_path",
    "relay": "bench.relay",
    "projection_pg": "bench.projection_pg",
    "replay": "bench.replay",
    "clickhouse_projection": "bench.clickhouse_projection",
    "embeddings": "bench.embeddings",
    "freshness": "bench.freshness",
    "query_api": "bench.query_api",
    "enrollment_burst": "bench.enrollment_burst",
    "personal_data": "bench.personal_data",
    "login": "bench.login",
}


@dataclass
class Outcome:
    name: str
    figures: list[Figure]
    peak_rss_mb: float
    seconds: float
    error: str = ""


def measure_one(name: str, scale: Scale) -> list[Figure]:
    """Run one benchmark in this process."""
    return importlib.import_module(BENCHMARKS[name]).measure(Settings(), scale)


def _peak_rss(root: psutil.Process, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        try:
            tree = [root, *root.children(recursive=True)]
            total = sum(p.memory_info().rss for p in tree if p.is_running())
            peak[0] = max(peak[0], total / 2**20)
        except psutil.Error:
            pass
        stop.wait(0.25)


def run_isolated(name: str, scale: Scale) -> Outcome:
    """One benchmark in a child process; peak RSS is that process and its children
    (servers it starts, load generators), not the stack's services."""
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "figures.json"
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.suite", "--one", name, "--scale", scale.value,
             "--result", str(result)],
            cwd=PROJECT_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        stop, peak = threading.Event(), [0.0]
        sampler = threading.Thread(target=_peak_rss, args=(psutil.Process(child.pid), stop, peak))
        sampler.start()
        output, _ = child.communicate()
        stop.set()
        sampler.join()
        seconds = time.monotonic() - started
        if child.returncode != 0 or not result.exists():
            return Outcome(name, [], peak[0], seconds, error=output[-3000:])
        figures = [Figure(**f) for f in json.loads(result.read_text())]
    for figure in figures:
        figure.peak_rss_mb = round(peak[0], 1)
    return Outcome(name, figures, round(peak[0], 1), seconds)


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total
                                                                 / 2**30, 1),
        "python": platform.python_version(), "platform": platform.platform(),
        "commit": commit, "services": versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'benchmark':<16} {'ours':>12} {'anchor':>12} {'ratio':>7} {'peak RSS':>9}  "
             f"{'target':<6} metric"]
    for outcome in outcomes:
        if outcome.error:
            lines.append(f"{outcome.name:<16} FAILED: {outcome.error.splitlines()[-1][:80]}")
        for f in outcome.figures:
            anchor = f"{f.anchor:,.1f}" if f.anchor is not None else "-"
            ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
            met = {True: "met", False: "missed", None: "-"}[f.met]
            lines.append(f"{f.benchmark:<16} {f.ours:>12,.1f} {anchor:>12} {ratio:>7} "
                         f"{f.peak_rss_mb or 0:>7.0f}MB  {met:<6} {f.metric}")
    return "\n".join(lines)


def run(names: list[str], scale: Scale, out: Path | None) -> list[Outcome]:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {', '.join(unknown)}; "
                         f"known: {', '.join(BENCHMARKS)}")
    stack.up(Settings())
    outcomes = [run_isolated(name, scale) for name in (names or list(BENCHMARKS))]
    if out is not None:
        out.write_text(json.dumps({
            "scale": scale.value, "machine": machine(),
            "results": [{"name": o.name, "seconds": round(o.seconds, 1), "error": o.error,
                         "peak_rss_mb": o.peak_rss_mb,
                         "figures": [f.as_dict() for f in o.figures]} for o in outcomes],
        }, indent=2, default=str))
    return outcomes


def _child_main(argv: list[str]) -> None:
    name, scale, result = argv[argv.index("--one") + 1], argv[argv.index("--scale") + 1], \
        argv[argv.index("--result") + 1]
    figures = measure_one(name, Scale(scale))
    Path(result).write_text(json.dumps([{k: v for k, v in f.as_dict().items() if k != "ratio"}
                                        for f in figures], default=str))


if __name__ == "__main__":
    _child_main(sys.argv)
