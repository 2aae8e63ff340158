"""Login latency: the OAuth2 password grant through a real command API (argon2id verify, the
account lookups, a refresh token row, an EdDSA signature), beside its raw anchor: a bare
argon2-cffi verify with the same parameters in this process, measured in the same run.

    .venv/bin/python -m bench.login [--logins 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from argon2 import PasswordHasher, Type

from bench.figures import Figure, Scale
from infra import stack
from smartcourse.local_servers import serve
from smartcourse.settings import Settings

UNTHROTTLED = {"SMARTCOURSE_LOGIN_LIMIT_PER_IP": "", "SMARTCOURSE_LOGIN_LIMIT_PER_ACCOUNT": "",
               "SMARTCOURSE_WRITE_LIMIT_PER_USER": "", "SMARTCOURSE_ENV": "dev"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bare_argon2(settings: Settings, rounds: int) -> dict[str, float]:
    hasher = PasswordHasher(time_cost=settings.argon2_time_cost,
                            memory_cost=settings.argon2_memory_kib,
                            parallelism=settings.argon2_parallelism, type=Type.ID)
    stored = hasher.hash("correct horse battery staple")
    hashes, verifies = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        hasher.hash("correct horse battery staple")
        hashes.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        hasher.verify(stored, "correct horse battery staple")
        verifies.append((time.perf_counter() - started) * 1000)
    return {"hash_p50_ms": round(statistics.median(hashes), 1),
            "verify_p50_ms": round(statistics.median(verifies), 1),
            "verify_p99_ms": round(percentile(verifies, 0.99), 1)}


async def logins(base: str, accounts: list[tuple[str, str]], count: int,
                 concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = [accounts[n % len(accounts)] for n in range(count)]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        async def worker() -> None:
            while queue:
                email, password = queue.pop()
                started = time.perf_counter()
                reply = await http.post("/auth/token", data={
                    "grant_type": "password", "username": email, "password": password})
                latencies.append((time.perf_counter() - started) * 1000)
                reply.raise_for_status()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def run(settings: Settings, count: int, concurrency: int) -> dict[str, Any]:
    stack.up(settings)
    os.environ.update(UNTHROTTLED)
    with tempfile.TemporaryDirectory() as logs, serve("command-api", settings, Path(logs)) as base:
        accounts = []
        with httpx.Client(base_url=base, timeout=60) as http:
            for _ in range(20):
                email, password = f"bench-{uuid4().hex}@example.com", f"pw-{uuid4().hex}"
                http.post("/users", json={"display_name": "Bench", "email": email,
                                          "password": password}).raise_for_status()
                accounts.append((email, password))
        asyncio.run(logins(base, accounts, 20, concurrency))  # warm-up
        measured = asyncio.run(logins(base, accounts, count, concurrency))
    anchor = bare_argon2(settings, max(20, count // 4))
    return {"logins": count, "concurrency": concurrency,
            "p50_ms": round(statistics.median(measured), 1),
            "p99_ms": round(percentile(measured, 0.99), 1),
            "argon2": {"time_cost": settings.argon2_time_cost,
                       "memory_kib": settings.argon2_memory_kib,
                       "parallelism": settings.argon2_parallelism},
            **{f"bare_{k}": v for k, v in anchor.items()}}


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    result = run(settings, 40 if scale == Scale.SMALL else 400, 4)
    return [Figure(
        benchmark="login", metric=f"ms p99 of the password grant, {result['concurrency']} "
        "concurrent clients", ours=result["p99_ms"],
        anchor_name="bare argon2-cffi verify, same parameters (ms p99)",
        anchor=result["bare_verify_p99_ms"], details=result)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(run(Settings(), args.logins, args.concurrency), indent=2))


if __name__ == "__main__":
    main()
