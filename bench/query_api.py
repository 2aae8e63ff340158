"""Query API: reads/s and p99 under a constant arrival rate (vegeta, open loop) for catalog
searches, course details and a student's enrollments, beside a bare psycopg query for the
same rows (p99 of the SQL alone, same run).

    .venv/bin/python -m bench.query_api --rate 500 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from typing import Any

import httpx
import psycopg

from bench.accounts import register
from bench.command_path import attack
from bench.figures import Figure, Scale, median_round
from bench.tools import app_running
from smartcourse.settings import Settings

COURSES, STUDENTS = 20, 200


async def seed(settings: Settings) -> tuple[list[str], list[tuple[str, str]], int]:
    """Courses and enrolled students, written through the command API; returns the course
    ids, (student id, token) pairs and the last write's position."""
    writes = f"http://{settings.host}:{settings.command_api_port}"
    [(_, teacher_token)] = await register(settings, 1, "instructor")
    teacher = {"Authorization": f"Bearer {teacher_token}"}
    last = 0
    async with httpx.AsyncClient(base_url=writes, timeout=30) as http:
        async def course(n: int) -> str:
            course_id = (await http.post("/courses", json={
                "title": f"Reading benchmark course {n}", "tags": ["bench", f"t{n % 5}"],
                "capacity": 10_000}, headers=teacher)).json()["course_id"]
            module = (await http.post(f"/courses/{course_id}/modules", json={"title": "M"},
                                      headers=teacher)).json()["module_id"]
            for lesson in range(3):
                await http.post(f"/courses/{course_id}/modules/{module}/lessons",
                                json={"title": f"L{lesson}", "content": "text"}, headers=teacher)
            await http.post(f"/courses/{course_id}/publish", headers=teacher)
            return course_id

        courses = list(await asyncio.gather(*(course(n) for n in range(COURSES))))
        students = []
        for student, token in await register(settings, STUDENTS, "student"):
            reply = await http.post(f"/courses/{random.choice(courses)}/enroll",
                                    headers={"Authorization": f"Bearer {token}"})
            last = max(last, reply.json()["position"])
            students.append((str(student), token))
    return courses, students, last


def targets(settings: Settings, courses: list[str], students: list[tuple[str, str]],
            count: int) -> list[dict[str, Any]]:
    base = f"http://{settings.host}:{settings.query_api_port}"
    out = []
    for _ in range(count):
        kind = random.random()
        student, token = random.choice(students)
        if kind < 0.4:
            url = f"{base}/courses?q=benchmark&tag=t{random.randint(0, 4)}"
        elif kind < 0.7:
            url = f"{base}/courses/{random.choice(courses)}"
        else:
            url = f"{base}/students/{student}/enrollments"
        out.append({"method": "GET", "url": url,
                    "header": {"Authorization": [f"Bearer {token}"]}})
    return out


def bare_p99(settings: Settings, courses: list[str], students: list[tuple[str, str]],
             count: int) -> float:
    """The same reads as plain SQL on one connection: the floor under the API's latency."""
    queries = [
        ("SELECT * FROM read_models.catalog_courses WHERE status IN ('PUBLISHED', 'READY')"
         " AND title ILIKE %s ORDER BY title, course_id LIMIT 20", lambda: ["%benchmark%"]),
        ("SELECT * FROM read_models.course_details d LEFT JOIN read_models.course_lessons l"
         " USING (course_id) WHERE d.course_id = %s", lambda: [random.choice(courses)]),
        ("SELECT * FROM read_models.student_enrollments WHERE student_id = %s"
         " ORDER BY enrolled_at DESC LIMIT 20", lambda: [random.choice(students)[0]]),
    ]
    timings = []
    with psycopg.connect(settings.pg_dsn) as conn:
        for _ in range(count):
            sql, params = random.choice(queries)
            started = time.perf_counter()
            conn.execute(sql, params()).fetchall()
            timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)[int(0.99 * len(timings))]


def wait_for_the_seed(reads: str, course: str, position: int, token: str,
                      timeout: float = 300) -> None:
    """Until the seed's last write is visible: a worker still working off what earlier
    benchmarks wrote answers 503 (consistency token not reached) for a while."""
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.get(f"{reads}/courses/{course}", timeout=60, headers={
            "X-Consistency-Token": str(position), "Authorization": f"Bearer {token}"})
        if reply.status_code == 200:
            return
        if reply.status_code != 503 or time.monotonic() > deadline:
            raise RuntimeError(f"the seeded course is not readable: {reply.status_code} "
                               f"{reply.text[:500]}")
        time.sleep(1)  # a bounded poll of a catching-up worker


def run(settings: Settings, rate: int, seconds: float, rounds: int = 1) -> dict[str, Any]:
    with app_running(settings):
        return _run(settings, rate, seconds, rounds)


def _run(settings: Settings, rate: int, seconds: float, rounds: int) -> dict[str, Any]:
    """`rounds` attacks, each followed by the bare SQL anchor; the medians of both."""
    courses, students, last = asyncio.run(seed(settings))
    reads = f"http://{settings.host}:{settings.query_api_port}"
    wait_for_the_seed(reads, courses[-1], last, students[0][1])
    attack(settings, targets(settings, courses, students, 200), 100, 2)  # warm up
    runs = []
    for _ in range(rounds):
        report = attack(settings, targets(settings, courses, students, int(rate * seconds)),
                        rate, seconds)
        lat = report["latencies"]
        runs.append({
            "offered_rate": rate, "throughput": round(report["throughput"], 1),
            "success": round(report["success"], 4), "status_codes": report["status_codes"],
            "p50_ms": round(lat["50th"] / 1e6, 2), "p99_ms": round(lat["99th"] / 1e6, 2),
            "bare_sql_p99_ms": round(bare_p99(settings, courses, students, 2000), 2)})
    median = median_round(runs)
    return {**median, "rounds": rounds, "p99_ms_rounds": [r["p99_ms"] for r in runs],
            "bare_sql_p99_ms": statistics.median(r["bare_sql_p99_ms"] for r in runs),
            "bare_sql_p99_ms_rounds": [r["bare_sql_p99_ms"] for r in runs],
            "success": min(r["success"] for r in runs)}


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    small = scale == Scale.SMALL
    result = run(settings, 500, 4 if small else 15, rounds=1 if small else 3)
    return [Figure(
        benchmark="query API", metric="ms p99 at 500 reads/s (catalog search, course detail, "
        f"a student's enrollments; median of {result['rounds']} round(s))", ours=result["p99_ms"],
        anchor_name="bare psycopg, the same reads as SQL (ms p99)",
        anchor=result["bare_sql_p99_ms"], target="p99 <= 20 ms at 500 reads/s",
        met=result["p99_ms"] <= 20 and result["success"] >= 0.999, details=result,
    )]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(run(Settings(), args.rate, args.seconds, args.rounds), indent=2))


if __name__ == "__main__":
    main()
