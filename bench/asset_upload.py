"""Asset upload throughput: files streamed through a real command API (multipart parsed
incrementally, SHA-256 on the way, S3 multipart parts, the AssetStored command) beside the
raw anchor measured in the same run: boto3 writing the same bytes straight to the same
S3Proxy as the same multipart upload.

    .venv/bin/python -m bench.asset_upload [--files 8] [--megabytes 16]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from assets.store import PART_BYTES, ObjectStore
from bench.accounts import tokens
from bench.figures import Figure, Scale
from infra import stack
from smartcourse.local_servers import serve
from smartcourse.settings import Settings

UNTHROTTLED = {"SMARTCOURSE_WRITE_LIMIT_PER_USER": "", "SMARTCOURSE_ENV": "dev"}


def _lesson(http: httpx.Client) -> tuple[str, str]:
    course = http.post("/courses", json={"title": "Bench assets"}).raise_for_status().json()
    cid = course["course_id"]
    module = http.post(f"/courses/{cid}/modules", json={"title": "M"}).raise_for_status()
    mid = module.json()["module_id"]
    lesson = http.post(f"/courses/{cid}/modules/{mid}/lessons",
                       json={"title": "L", "content": "bench"}).raise_for_status()
    return cid, lesson.json()["lesson_id"]


def through_api(base: str, token: str, data: bytes, files: int) -> float:
    """Seconds for `files` uploads of `data`, one after the other."""
    with httpx.Client(base_url=base, timeout=300,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        cid, lid = _lesson(http)
        started = time.perf_counter()
        for n in range(files):
            http.post(f"/courses/{cid}/lessons/{lid}/assets",
                      files={"file": (f"f{n}.txt", data, "text/plain")}).raise_for_status()
        return time.perf_counter() - started


def bare_boto3(store: ObjectStore, data: bytes, files: int) -> float:
    started = time.perf_counter()
    for n in range(files):
        write = store.start_upload(f"bench/{uuid4()}/{n}", "text/plain")
        for at in range(0, len(data), PART_BYTES):
            write.write_part(data[at:at + PART_BYTES])
        write.complete()
    return time.perf_counter() - started


def run(settings: Settings, files: int, megabytes: int) -> dict[str, Any]:
    stack.up(settings)
    os.environ.update(UNTHROTTLED)
    data = (b"The quick brown fox jumps over the lazy dog.\n" * (megabytes * 23_302))[
        :megabytes * 1024 * 1024]
    [(_, token)] = tokens(settings, 1, "instructor")
    store = ObjectStore.from_settings(settings)
    with tempfile.TemporaryDirectory() as logs, serve("command-api", settings, Path(logs)) as base:
        through_api(base, token, data, 1)  # warm-up
        ours = through_api(base, token, data, files)
    anchor = bare_boto3(store, data, files)
    total = files * len(data) / 1024 / 1024
    return {"files": files, "megabytes_each": megabytes,
            "api_mb_per_s": round(total / ours, 1), "bare_boto3_mb_per_s": round(total / anchor, 1),
            "api_seconds": round(ours, 2), "bare_seconds": round(anchor, 2)}


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    result = run(settings, 2 if scale == Scale.SMALL else 8, 4 if scale == Scale.SMALL else 16)
    return [Figure(
        benchmark="asset_upload", metric="MB/s of multipart uploads streamed through the "
        "command API into S3", ours=result["api_mb_per_s"],
        anchor_name="bare boto3 multipart upload to the same S3 (MB/s)",
        anchor=result["bare_boto3_mb_per_s"], details=result)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--megabytes", type=int, default=16)
    args = parser.parse_args()
    os.environ.update(UNTHROTTLED)  # before Settings: local development keys sign the token
    print(json.dumps(run(Settings(), args.files, args.megabytes), indent=2))


if __name__ == "__main__":
    main()
