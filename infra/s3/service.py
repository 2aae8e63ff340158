"""S3Proxy: the S3-compatible object store of the local stack, where lesson assets live.

The runnable jar `org.gaul:s3proxy:<version>:jar:jar-with-dependencies` comes from Maven
Central, once per version, and runs on the machine's Java 17 (its classes target Java 11).
The backend is jclouds' `filesystem-nio2` provider: objects are files under the data folder,
so they survive a restart and `down --purge` removes them. Requests are authenticated with
AWS Signature V4 against an access key and secret generated once into
`<data_dir>/secrets/` (never a default); the same pair reaches the application through
`assets.store` (docs/adr/0040 says why S3Proxy rather than MinIO).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from infra import maven
from infra.service import Service, StackError

ARTIFACT = "org.gaul:s3proxy:{version}:jar:jar-with-dependencies"


class S3Proxy(Service):
    name = "s3"

    @property
    def jar(self) -> Path:
        return self.cache / "s3proxy.jar"

    @property
    def properties(self) -> Path:
        return self.data / "s3proxy.properties"

    @property
    def blobs(self) -> Path:
        return self.data / "blobs"

    def ports(self) -> dict[str, int]:
        return {"s3": self.settings.s3_port}

    def install(self) -> None:
        if maven.is_complete(self.cache):
            return
        maven.start_fresh(self.cache)
        with tempfile.TemporaryDirectory(prefix="smartcourse-s3proxy-") as work:
            artifact = ARTIFACT.format(version=self.version)
            maven.run_maven(self.name, "copy", f"-Dartifact={artifact}",
                            f"-DoutputDirectory={work}", cwd=Path(work))
            jars = list(Path(work).glob("*.jar"))
            if len(jars) != 1:
                raise StackError(f"s3: expected one jar from mvn, found {jars}")
            shutil.move(str(jars[0]), self.jar)
        maven.mark_complete(self.cache)

    def prepare(self) -> None:
        from assets.store import local_credentials

        self.blobs.mkdir(parents=True, exist_ok=True)
        access_key, secret_key = local_credentials(self.settings, create=True)
        # jclouds wants an identity for its backend too; for the filesystem it is unused.
        lines = [
            f"s3proxy.endpoint=http://{self.settings.host}:{self.settings.s3_port}",
            "s3proxy.authorization=aws-v4",
            f"s3proxy.identity={access_key}",
            f"s3proxy.credential={secret_key}",
            "jclouds.provider=filesystem-nio2",
            f"jclouds.identity={access_key}",
            f"jclouds.credential={secret_key}",
            f"jclouds.filesystem.basedir={self.blobs}",
        ]
        self.properties.write_text("\n".join(lines) + "\n")
        self.properties.chmod(0o600)

    def command(self) -> list[str]:
        return ["java", "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-jar", str(self.jar), "--properties", str(self.properties)]

    def healthy(self) -> bool:
        """A signed ListBuckets answers (the credentials and the backend both work)."""
        from assets.store import ObjectStore

        return ObjectStore.from_settings(self.settings).list_buckets() is not None

    def after_start(self) -> None:
        from assets.store import ObjectStore

        ObjectStore.from_settings(self.settings).ensure_bucket()
