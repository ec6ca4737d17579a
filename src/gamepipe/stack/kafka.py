"""Apache Kafka in KRaft mode, each node broker and controller in one JVM.

Runs `kafka.Kafka` from the jars Maven copied to `var/jvm/kafka`, on Java 17: one broker
per `kafka.bootstrap` entry (one: `var/kafka`; several: `var/kafka-<n>`, every one a
voter of a static quorum). Storage is formatted once (`kafka.tools.StorageTool`, one
cluster id for all); the topic is created once every broker is up, with
`kafka.replication` copies and `kafka.min_insync_replicas`. Reads settings: kafka.*.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from typing import Any

from gamepipe.config import KafkaSettings, Settings
from gamepipe.errors import ServiceFailed, SetupError, StackError
from gamepipe.stack.base import Launch, Service, java_env
from gamepipe.stack.hosts import Host

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
    """Broker `number` of `kafka.bootstrap` (1, 2, ...), broker and controller in one JVM,
    listening at its entry's address; every broker a voter of the KRaft quorum."""

    start_timeout_s = 60.0

    def __init__(self, settings: Settings, number: int = 1, host: Host | None = None) -> None:
        super().__init__(settings)
        brokers = settings.kafka.brokers
        self.number = number
        self.name = "kafka" if len(brokers) == 1 else f"kafka-{number}"
        self.address, self.port = brokers[number - 1].rsplit(":", 1)
        self.host = host or Host(self.address)

    @property
    def home(self) -> Path:
        return self.settings.var / self.name

    @property
    def classpath(self) -> str:
        jars = self.settings.jvm / "kafka"
        if not any(jars.glob("kafka_*.jar")):
            raise SetupError(f"Kafka jars missing in {jars}", "run `make setup` (Maven fetch)")
        return f"{jars}/*"

    def server_properties(self) -> str:
        k = self.settings.kafka
        brokers = k.brokers
        voters = ",".join(f"{i}@{b.rsplit(':', 1)[0]}:{k.controller_port}" for i, b in enumerate(brokers, start=1))
        internal = str(min(3, len(brokers)))  # Kafka's own topics: as many copies as there are brokers, up to 3
        internal_isr = str(min(k.min_insync_replicas, len(brokers)))
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.number}",
                f"controller.quorum.voters={voters}",
                f"listeners=PLAINTEXT://{self.address}:{self.port},CONTROLLER://{self.address}:{k.controller_port}",
                f"advertised.listeners=PLAINTEXT://{self.address}:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.home / 'data'}",
                f"num.partitions={k.partitions}",
                f"default.replication.factor={k.replication}",
                f"min.insync.replicas={k.min_insync_replicas}",
                f"offsets.topic.replication.factor={internal}",
                f"transaction.state.log.replication.factor={internal}",
                f"transaction.state.log.min.isr={internal_isr}",
                f"share.coordinator.state.topic.replication.factor={internal}",
                f"share.coordinator.state.topic.min.isr={internal_isr}",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                # A broker never elects a replica that missed acknowledged records.
                "unclean.leader.election.enable=false",
                # A week of events by default: enough to replay the tables from Kafka.
                f"log.retention.hours={k.retention_hours}",
                "",
            ]
        )

    def cluster_id(self) -> str:
        """The one id every broker of the stack is formatted with (kept in <var>)."""
        path = self.settings.var / "kafka-cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id() + "\n")
        return path.read_text().strip()

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(self.server_properties())
        (self.home / "log4j2.properties").write_text(LOG4J2)
        if (self.home / "data" / "meta.properties").exists():
            return
        tool = ["java", "-cp", self.classpath, *self._log_opts(), "kafka.tools.StorageTool"]
        result = subprocess.run(
            [*tool, "format", "-t", self.cluster_id(), "-c", str(self.home / "server.properties")],
            capture_output=True,
            text=True,
            env=java_env(),
            check=False,
        )
        if result.returncode != 0:
            raise ServiceFailed(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

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
        return AdminClient({"bootstrap.servers": f"{self.address}:{self.port}", "log_level": 0})

    def healthy(self) -> bool:
        """This broker is in the cluster's metadata, as it answers it."""
        try:
            md = self._admin().list_topics(timeout=2)
        except Exception:  # noqa: BLE001 - not up yet
            return False
        return self.number in md.brokers

    def after_start(self) -> None:
        if self.number == len(self.settings.kafka.brokers):  # the last broker: the quorum is whole
            ensure_topic(self.settings.kafka)

    def describe(self) -> str:
        return f"{self.address}:{self.port} topic={self.settings.kafka.topic}"


def ensure_topic(kafka: KafkaSettings, topic: str | None = None, partitions: int | None = None) -> None:
    """Create the topic (default: kafka.topic) unless it exists, with kafka.replication
    copies of which kafka.min_insync_replicas must have a record before it is acknowledged."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    name = topic or kafka.topic
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    if name in admin.list_topics(timeout=10).topics:
        return
    isr = {"min.insync.replicas": str(kafka.min_insync_replicas)}
    new = NewTopic(
        name, num_partitions=partitions or kafka.partitions, replication_factor=kafka.replication, config=isr
    )
    futures = admin.create_topics([new])
    try:
        futures[name].result(timeout=30)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise StackError(f"could not create Kafka topic {name!r}: {exc}") from exc
