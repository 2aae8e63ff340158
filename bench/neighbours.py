"""What else ran on the machine during the benchmarks: every process's CPU over the run.

Figures on a shared machine swing by 2x with the neighbours' load, so `smartcourse bench`
prints, beside its table, the processes that used the most CPU between the start and the end
of the run (CPU seconds and the share of the machine's cores), outside the suite itself.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Neighbour:
    pid: int
    name: str
    cpu_seconds: float
    share: float  # of all cores over the run, 0..1


class Neighbours:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.before = _cpu_times()
        self.load_before = os.getloadavg()

    def top(self, count: int = 10) -> tuple[list[Neighbour], float]:
        """The busiest processes over the run (not this one), and the machine's CPU share
        they took together."""
        seconds = max(time.monotonic() - self.started, 1e-6)
        cores = psutil.cpu_count() or 1
        ours = {os.getpid()}
        busy = []
        for pid, (name, spent) in _cpu_times().items():
            used = spent - self.before.get(pid, (name, 0.0))[1]
            if pid not in ours and used > 0:
                busy.append(Neighbour(pid, name, used, used / seconds / cores))
        busy.sort(key=lambda n: n.cpu_seconds, reverse=True)
        return busy[:count], sum(n.share for n in busy)

    def table(self, count: int = 10) -> str:
        busy, share = self.top(count)
        lines = [f"beside the benchmarks (CPU over the run; load average at start "
                 f"{self.load_before[0]:.1f}, now {os.getloadavg()[0]:.1f}; other processes "
                 f"took {share:.0%} of the machine):",
                 f"{'pid':>8}  {'cpu s':>8}  {'share':>6}  process"]
        lines += [f"{n.pid:>8}  {n.cpu_seconds:>8.1f}  {n.share:>6.1%}  {n.name[:90]}"
                  for n in busy]
        return "\n".join(lines)


def _cpu_times() -> dict[int, tuple[str, float]]:
    found = {}
    for proc in psutil.process_iter(["pid", "cmdline", "name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        name = " ".join(proc.info["cmdline"] or []) or proc.info["name"] or "?"
        found[proc.info["pid"]] = (name, times.user + times.system)
    return found
