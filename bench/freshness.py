"""Freshness: from a command's acceptance to its effect being visible in the query API.

Students enroll at a steady arrival rate (open loop) through the command API; for each
accepted enrollment a reader asks the query API for it with the command's consistency token,
which answers as soon as the read models have passed that position. Freshness is the time
from the command's reply to that read's answer, through the whole pipeline: event store,
relay, Kafka, worker, read model. No anchor: there is no bare equivalent of the pipeline.

    .venv/bin/python -m bench.freshness --rate 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any
from uuid import uuid4

import httpx

from bench.figures import Figure, Scale
from bench.tools import app_running
from commands.api.auth import issue_token
from smartcourse.settings import Settings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(settings: Settings, rate: int, seconds: float) -> dict[str, Any]:
    writes = f"http://{settings.host}:{settings.command_api_port}"
    reads = f"http://{settings.host}:{settings.query_api_port}"
    instructor = {"Authorization": f"Bearer {issue_token(settings, uuid4(), 'instructor')}"}
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=writes, timeout=30, limits=limits) as w, \
            httpx.AsyncClient(base_url=reads, timeout=30, limits=limits) as r:
        course = (await w.post("/courses", json={"title": "Freshness", "capacity": 100_000},
                               headers=instructor)).json()["course_id"]
        module = (await w.post(f"/courses/{course}/modules", json={"title": "M"},
                               headers=instructor)).json()["module_id"]
        await w.post(f"/courses/{course}/modules/{module}/lessons",
                     json={"title": "L", "content": "text"}, headers=instructor)
        await w.post(f"/courses/{course}/publish", headers=instructor)

        freshness: list[float] = []
        failures: list[str] = []

        async def one() -> None:
            student = {"Authorization": f"Bearer {issue_token(settings, uuid4(), 'student')}"}
            reply = await w.post(f"/courses/{course}/enroll", headers=student)
            accepted = time.perf_counter()
            if reply.status_code != 202:
                failures.append(f"enroll {reply.status_code}")
                return
            body = reply.json()
            seen = await r.get(f"/enrollments/{body['enrollment_id']}", headers={
                **student, "X-Consistency-Token": str(body["position"])})
            if seen.status_code != 200:
                failures.append(f"read {seen.status_code}")
                return
            freshness.append((time.perf_counter() - accepted) * 1000)

        tasks = []
        started = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # the arrival schedule, not a wait for a result
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {
        "offered_rate": rate, "achieved_rate": round(len(tasks) / elapsed, 1),
        "samples": len(freshness), "failures": failures[:5], "failure_count": len(failures),
        "p50_ms": round(statistics.median(freshness), 1) if freshness else None,
        "p99_ms": round(percentile(freshness, 0.99), 1) if freshness else None,
        "max_ms": round(max(freshness), 1) if freshness else None,
    }


def run(settings: Settings, rate: int, seconds: float) -> dict[str, Any]:
    with app_running(settings):
        return asyncio.run(_measure(settings, rate, seconds))


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    result = run(settings, 200, 5 if scale == Scale.SMALL else 30)
    return [Figure(
        benchmark="freshness", metric="ms p99, command accepted -> visible in the query API "
        "at 200 commands/s", ours=result["p99_ms"] or 0.0, target="p99 <= 250 ms",
        met=result["p99_ms"] is not None and result["p99_ms"] <= 250
        and not result["failure_count"], details=result,
    )]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    print(run(Settings(), args.rate, args.seconds))


if __name__ == "__main__":
    main()
