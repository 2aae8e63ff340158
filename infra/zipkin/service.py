"""Zipkin: the trace backend of the local stack (its Lens UI included), where every process
exports its OpenTelemetry spans (smartcourse/observability/tracing.py).

The runnable jar `io.zipkin:zipkin-server:<version>:jar:exec` comes from Maven Central, once
per version; it runs on the machine's Java 17 with in-memory storage (traces are for looking
at now; a restart forgets them), on the loopback host.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx

from infra import maven
from infra.service import Service, StackError

ARTIFACT = "io.zipkin:zipkin-server:{version}:jar:exec"
# In-memory storage keeps this many spans, dropping the oldest traces beyond. Our spans carry
# SQL and Kafka attributes (2-4 KB each on the heap): 200,000 filled the 256 MB heap within a
# test run and Zipkin died of OutOfMemoryError; 40,000 stay under ~160 MB of a 384 MB heap.
MAX_SPANS = 40_000
HEAP = "384m"


class Zipkin(Service):
    name = "zipkin"

    @property
    def jar(self) -> Path:
        return self.cache / "zipkin-server-exec.jar"

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.zipkin_port}"

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.zipkin_port}

    def install(self) -> None:
        if maven.is_complete(self.cache):
            return
        maven.start_fresh(self.cache)
        with tempfile.TemporaryDirectory(prefix="smartcourse-zipkin-") as work:
            artifact = ARTIFACT.format(version=self.version)
            maven.run_maven(self.name, "copy", f"-Dartifact={artifact}",
                            f"-DoutputDirectory={work}", cwd=Path(work))
            jars = list(Path(work).glob("*.jar"))
            if len(jars) != 1:
                raise StackError(f"zipkin: expected one jar from mvn, found {jars}")
            shutil.move(str(jars[0]), self.jar)
        maven.mark_complete(self.cache)

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        # Armeria binds every interface by default: one loopback port instead.
        return ["java", "-Xms32m", f"-Xmx{HEAP}", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-jar", str(self.jar),
                f"--armeria.ports[0].ip={self.settings.host}",
                f"--armeria.ports[0].port={self.settings.zipkin_port}",
                "--armeria.ports[0].protocols[0]=http"]

    def environment(self) -> dict[str, str]:
        return {"QUERY_PORT": str(self.settings.zipkin_port), "STORAGE_TYPE": "mem",
                "MEM_MAX_SPANS": str(MAX_SPANS)}

    def healthy(self) -> bool:
        reply = httpx.get(f"{self.base_url}/health", timeout=2)
        return reply.status_code == 200 and reply.json().get("status") == "UP"
