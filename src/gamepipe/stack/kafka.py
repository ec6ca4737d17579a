"""Apache Kafka, one node in KRaft mode (broker and controller in one JVM).

Runs `kafka.Kafka` from the jars Maven copied to `var/jvm/kafka`, on Java 17. Storage
in `var/kafka/data` is formatted once (`kafka.tools.StorageTool`); the topic is
created after the first start. Reads settings: kafka.*.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from typing import Any

from gamepipe.errors import SetupError, StackError
from gamepipe.stack.base import Launch, Service, java_env

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


def new_cluster_id() -> str:
    """A random cluster id as Kafka writes them (URL-safe base64 of 16 bytes), never
    starting with '-': the storage tool would read such an id as an option and refuse to
    format (it happened to a cold `make demo`; Kafka's own ids avoid it the same way)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class Kafka(Service):
    name = "kafka"
    start_timeout_s = 60.0

    @property
    def home(self) -> Path:
        return self.settings.var / "kafka"

    @property
    def classpath(self) -> str:
        jars = self.settings.var / "jvm" / "kafka"
        if not any(jars.glob("kafka_*.jar")):
            raise SetupError(f"Kafka jars missing in {jars}", "run `make setup` (Maven fetch)")
        return f"{jars}/*"

    def server_properties(self) -> str:
        k = self.settings.kafka
        host, port = k.bootstrap.rsplit(":", 1)
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{k.controller_port}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{k.controller_port}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.home / 'data'}",
                f"num.partitions={k.partitions}",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                # A week of events by default: enough to replay the tables from Kafka.
                f"log.retention.hours={k.retention_hours}",
                "",
            ]
        )

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(self.server_properties())
        (self.home / "log4j2.properties").write_text(LOG4J2)
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        result = subprocess.run(
            [
                "java",
                "-cp",
                self.classpath,
                *self._log_opts(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.home / "server.properties"),
            ],
            capture_output=True,
            text=True,
            env=java_env(),
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def _log_opts(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}"]

    def launch(self) -> Launch:
        heap = self.settings.kafka.heap
        argv = [
            "java",
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            *self._log_opts(),
            "-cp",
            self.classpath,
            "kafka.Kafka",
            str(self.home / "server.properties"),
        ]
        return Launch(argv, java_env(), self.home)

    def _admin(self) -> Any:
        from confluent_kafka.admin import AdminClient

        # log_level 0: a broker still starting is expected here, not worth a log line.
        return AdminClient({"bootstrap.servers": self.settings.kafka.bootstrap, "log_level": 0})

    def healthy(self) -> bool:
        try:
            md = self._admin().list_topics(timeout=2)
        except Exception:  # noqa: BLE001 - not up yet
            return False
        return bool(md.brokers)

    def after_start(self) -> None:
        ensure_topic(self.settings.kafka.bootstrap, self.settings.kafka.topic, self.settings.kafka.partitions)

    def describe(self) -> str:
        return f"{self.settings.kafka.bootstrap} topic={self.settings.kafka.topic}"


def ensure_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create `topic` unless it exists (replication 1: one broker)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap})
    if topic in admin.list_topics(timeout=10).topics:
        return
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    try:
        futures[topic].result(timeout=30)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise StackError(f"could not create Kafka topic {topic!r}: {exc}") from exc
