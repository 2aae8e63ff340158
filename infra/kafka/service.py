"""Apache Kafka in KRaft mode, one node that is both broker and controller.

The broker comes as plain jars from Maven Central (`org.apache.kafka:kafka_2.13` and its
runtime dependencies, plus reload4j for logging), fetched once per version with
`mvn dependency:copy-dependencies` from the small pom beside this file. The storage is
formatted once with `kafka.tools.StorageTool format`; after that `kafka.Kafka` runs on the
server.properties written into the data folder.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from infra import maven
from infra.service import Service, StackError
from infra.versions import version_of

POM = Path(__file__).with_name("pom.xml")
NODE_ID = 1


class Kafka(Service):
    name = "kafka"

    # -- places --------------------------------------------------------------------------
    @property
    def libs(self) -> Path:
        return self.cache / "libs"

    @property
    def log_dir(self) -> Path:
        """Kafka's own log.dirs (the topic data), not the supervisor's log file."""
        return self.data / "kraft"

    @property
    def server_properties(self) -> Path:
        return self.data / "server.properties"

    @property
    def log4j_properties(self) -> Path:
        return self.data / "log4j.properties"

    def ports(self) -> dict[str, int]:
        return {
            "broker": self.settings.kafka_port,
            "controller": self.settings.kafka_controller_port,
        }

    # -- install -------------------------------------------------------------------------
    def install(self) -> None:
        maven.ensure_maven()
        if maven.is_complete(self.libs):
            return
        maven.start_fresh(self.libs)
        with tempfile.TemporaryDirectory(prefix="smartcourse-kafka-") as work:
            shutil.copy(POM, Path(work) / "pom.xml")
            maven.run_maven(
                self.name,
                "copy-dependencies",
                f"-Dkafka.version={self.version}",
                f"-Dscala.binary.version={version_of('kafka', 'scala')}",
                f"-Dslf4j.version={version_of('kafka', 'slf4j')}",
                f"-Dreload4j.version={version_of('kafka', 'reload4j')}",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={self.libs}",
                cwd=Path(work),
            )
        if not any(self.libs.glob(f"kafka_*-{self.version}.jar")):
            raise StackError(f"kafka: mvn finished but no kafka jar landed in {self.libs}")
        maven.mark_complete(self.libs)

    # -- prepare -------------------------------------------------------------------------
    def prepare(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.server_properties.write_text(self._server_properties())
        self.log4j_properties.write_text(LOG4J_PROPERTIES)
        if not (self.log_dir / "meta.properties").exists():
            self._format_storage()

    def _server_properties(self) -> str:
        s = self.settings
        return "\n".join(
            [
                "# Written by infra/kafka/service.py at each start: change settings instead.",
                "process.roles=broker,controller",
                f"node.id={NODE_ID}",
                f"controller.quorum.voters={NODE_ID}@{s.host}:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},"
                f"CONTROLLER://{s.host}:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.log_dir}",
                "num.partitions=3",
                "default.replication.factor=1",
                "min.insync.replicas=1",
                "offsets.topic.replication.factor=1",
                # One node: fewer offset partitions make the first consumer group start quickly.
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "auto.create.topics.enable=true",
                # Nobody else joins a group on a one-node dev broker: don't wait 3s for them.
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                "",
            ]
        )

    def _format_storage(self) -> None:
        done = subprocess.run(
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                "--config",
                str(self.server_properties),
                "--cluster-id",
                _random_cluster_id(),
                "--ignore-formatted",
            ],
            cwd=self.data,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-3000:]
            raise StackError(f"kafka: formatting {self.log_dir} failed:\n{output}")

    # -- run -----------------------------------------------------------------------------
    def _java(self) -> list[str]:
        return [
            "java",
            "-Xms64m",  # the default initial heap is 1/64 of RAM; let it grow as needed
            f"-Xmx{self.settings.kafka_heap}",
            # Kafka's own defaults (bin/kafka-run-class.sh).
            "-XX:+UseSerialGC",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.log4j_properties}",
            "-cp",
            f"{self.libs}/*",
        ]

    def command(self) -> list[str]:
        return [*self._java(), "kafka.Kafka", str(self.server_properties)]

    def healthy(self) -> bool:
        from confluent_kafka.admin import AdminClient

        host, port = self.settings.host, self.settings.kafka_port
        with socket.create_connection((host, port), timeout=1):
            pass  # cheap check first: no client (and no librdkafka noise) while it is down
        admin = AdminClient({"bootstrap.servers": f"{host}:{port}", "log_level": 0})
        metadata = admin.list_topics(timeout=2)
        return NODE_ID in metadata.brokers


def _random_cluster_id() -> str:
    """A cluster id as Kafka's Uuid.randomUuid() makes them (base64url, never starting '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


# Everything to stdout: the supervisor puts it into <data>/logs/kafka.log.
LOG4J_PROPERTIES = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Start, stop and the settings in force; the rest only when something goes wrong.
log4j.logger.kafka.Kafka$=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
log4j.logger.kafka.server.ControllerServer=INFO
"""
