"""Tracing overhead on the command path: the same load (bench/command_path's mix, vegeta at a
constant rate) against two command API processes of the same run, one with tracing on
(OpenTelemetry, every request sampled, spans exported to Zipkin) and one with it off,
in alternating rounds; the raw anchor (the `eventsourcing` library appending to the same
PostgreSQL) is measured in the same run.

    .venv/bin/python -m bench.tracing_overhead --rate 800 --seconds 8 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from typing import Any

from bench import command_path as path
from infra import stack
from smartcourse.local_servers import serve
from smartcourse.settings import Settings


def run(rate: int, seconds: float, rounds: int) -> dict[str, Any]:
    settings = Settings()
    path.ACTIVE_ENROLLMENTS = 1500  # lessons to complete, for both servers' rounds
    stack.up(settings, ["postgres", "redis", "registry", "zipkin"])
    modes = {"on": {"SMARTCOURSE_TRACING": "true"}, "off": {"SMARTCOURSE_TRACING": "false"}}
    rounds_of: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    logs = settings.data_dir / "logs" / "bench-tracing"
    logs.mkdir(parents=True, exist_ok=True)
    with serve("command-api", settings, logs, env=modes["on"], start_timeout=300) as on, \
            serve("command-api", settings, logs, env=modes["off"], start_timeout=300) as off:
        bases = {"on": on, "off": off}
        seeded = {mode: asyncio.run(path.seed(base, settings)) for mode, base in bases.items()}
        for mode, base in bases.items():
            path.attack(settings, path.targets(base, seeded[mode], settings, 400), 200, 2)
        for n in range(rounds):
            for mode in (("on", "off") if n % 2 == 0 else ("off", "on")):
                targets = path.targets(bases[mode], seeded[mode], settings, int(rate * seconds))
                rounds_of[mode].append(path.summarize(rate, path.attack(
                    settings, targets, rate, seconds)))
        anchor = path.eventsourcing_anchor(settings, 3.0, 1)
    median = {mode: {k: statistics.median(r[k] for r in runs)
                     for k in ("throughput", "p50_ms", "p99_ms")}
              for mode, runs in rounds_of.items()}
    return {"rate": rate, "seconds": seconds, "rounds": rounds, "median": median,
            "p50_overhead_ms": round(median["on"]["p50_ms"] - median["off"]["p50_ms"], 2),
            "p99_overhead_ms": round(median["on"]["p99_ms"] - median["off"]["p99_ms"], 2),
            "anchor_eventsourcing_events_per_s": round(anchor, 1), "all_rounds": rounds_of}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=800)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = run(args.rate, args.seconds, args.rounds)
    print(json.dumps(results, indent=2))
    for mode, m in results["median"].items():
        print(f"tracing {mode:>3}: {m['throughput']:>8} commands/s  p50 {m['p50_ms']} ms  "
              f"p99 {m['p99_ms']} ms")
    print(f"overhead: p50 +{results['p50_overhead_ms']} ms, p99 +{results['p99_overhead_ms']} ms"
          f"   anchor: eventsourcing {results['anchor_eventsourcing_events_per_s']} events/s")


if __name__ == "__main__":
    main()
