"""HDFS: a NameNode and DataNodes, from the Maven Central jars `jvm/hdfs/pom.xml` copies to
var/jvm/hdfs (hadoop-common, -hdfs-client, -hdfs 3.4.1: the client pyspark 4.0.0 ships).

The NameNode listens at the warehouse URI's host and port (`catalog.warehouse`,
hdfs://<host>:<port>/...), its web UI and JMX on `hdfs.http_port`; it is formatted once
(`var/hdfs/namenode/name`). DataNode i keeps its blocks in `var/hdfs/datanode-<i>/data` and
listens on the DataNode ports plus 10 * (i - 1) where several share one address. Each node
writes its own configuration (`var/hdfs/<node>/conf`) at every start, from settings alone.
A DataNode that stops heartbeating is declared dead in seconds (`hdfs.heartbeat_s`,
`hdfs.recheck_ms`), its blocks copied to the others. Java 17 with the `--add-opens` Hadoop
3.4's own scripts add in later releases; C1 only and the serial collector: small daemons
that start fast. Reads settings: hdfs.*, catalog.warehouse.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from gamepipe import hdfs
from gamepipe.config import Settings
from gamepipe.errors import ServiceFailed, SetupError, StackError
from gamepipe.stack.base import Launch, Service, get_json, java_env
from gamepipe.stack.hosts import Host, resolve

log = logging.getLogger(__name__)

# java.base packages Hadoop 3.4 reaches into by reflection (the set its later releases add).
OPENS = ("java.io", "java.lang", "java.lang.reflect", "java.math", "java.net", "java.nio", "java.text", "java.util",
         "java.util.concurrent", "java.util.zip", "sun.nio.ch", "sun.security.util", "sun.security.x509")  # fmt: skip
LOG4J = """\
log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d %p %c{1}: %m%n
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN
log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN
"""
SAFE_MODE_TIMEOUT_S = 120.0


def site_xml(properties: dict[str, str]) -> str:
    rows = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>\n" for k, v in properties.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n'


class HdfsNode(Service):
    """What the NameNode and a DataNode share: the jars, the configuration, the JVM."""

    main_class = ""
    heap = "256m"

    def __init__(self, settings: Settings, host: Host) -> None:
        super().__init__(settings)
        self.host = host
        self.address = host.address
        self.namenode = hdfs.namenode(settings.warehouse)  # ConfigError unless hdfs://

    @property
    def home(self) -> Path:
        return self.settings.var / "hdfs" / self.name

    @property
    def classpath(self) -> str:
        jars = self.settings.jvm / "hdfs"
        if not any((jars / "lib").glob("hadoop-hdfs-*.jar")):
            raise SetupError(f"HDFS jars missing in {jars}", "run `make setup` (Maven fetch)")
        # The configuration first: the first hdfs-site.xml on the class path wins.
        return f"{self.home / 'conf'}:{jars / 'lib'}/*:{jars / 'share'}"

    def properties(self) -> dict[str, str]:
        """Every node's hdfs-site.xml; a node adds its own (`own_properties`)."""
        h = self.settings.hdfs
        nn_host, nn_port = self.namenode
        return {
            "dfs.namenode.rpc-address": f"{nn_host}:{nn_port}",
            "dfs.namenode.http-address": f"{nn_host}:{h.http_port}",
            "dfs.replication": str(h.replication),
            "dfs.permissions.enabled": "false",
            # No name resolves for our addresses (the NameNode would refuse DataNodes).
            "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            "dfs.namenode.safemode.extension": "0",
            "dfs.heartbeat.interval": str(h.heartbeat_s),
            "dfs.namenode.heartbeat.recheck-interval": str(h.recheck_ms),
            "dfs.namenode.stale.datanode.interval": str(max(3 * h.heartbeat_s * 1000, 3000)),
            "dfs.namenode.avoid.read.stale.datanode": "true",
            "dfs.namenode.avoid.write.stale.datanode": "true",
            # A write goes on with the DataNodes left when one fails mid-pipeline.
            "dfs.client.block.write.replace-datanode-on-failure.best-effort": "true",
            **self.own_properties(),
        }

    def own_properties(self) -> dict[str, str]:
        return {}

    def write_conf(self) -> None:
        conf = self.home / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        nn_host, nn_port = self.namenode
        core = {"fs.defaultFS": f"hdfs://{nn_host}:{nn_port}", "hadoop.tmp.dir": str(self.home / "tmp")}
        (conf / "core-site.xml").write_text(site_xml(core))
        (conf / "hdfs-site.xml").write_text(site_xml(self.properties()))
        (conf / "log4j.properties").write_text(LOG4J)

    def java(self, main: str, *args: str) -> list[str]:
        opens = [f"--add-opens=java.base/{package}=ALL-UNNAMED" for package in OPENS]
        small = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.net.preferIPv4Stack=true"]
        return ["java", f"-Xmx{self.heap}", *small, *opens, f"-Dproc_{self.name}", "-cp", self.classpath, main, *args]

    def prepare(self) -> None:
        self.write_conf()

    def launch(self) -> Launch:
        return Launch(self.java(self.main_class), java_env(), self.home)

    def namenode_info(self) -> dict[str, Any] | None:
        """The NameNode's own account (JMX NameNodeInfo), or None if it does not answer."""
        bean = "Hadoop:service=NameNode,name=NameNodeInfo"
        url = f"http://{self.namenode[0]}:{self.settings.hdfs.http_port}/jmx?qry={bean}"
        found = get_json(url)
        beans = (found or {}).get("beans") or [{}]
        info: dict[str, Any] = beans[0]
        return info or None


class NameNode(HdfsNode):
    name = "namenode"
    main_class = "org.apache.hadoop.hdfs.server.namenode.NameNode"
    start_timeout_s = 90.0
    startsecs = 10

    def __init__(self, settings: Settings, host: Host | None = None) -> None:
        """The NameNode, on `host` (default: this machine, at the warehouse URI's address)."""
        super().__init__(settings, host or Host(hdfs.namenode(settings.warehouse)[0]))
        self.heap = settings.hdfs.namenode_heap

    def own_properties(self) -> dict[str, str]:
        return {"dfs.namenode.name.dir": (self.home / "name").as_uri()}

    def prepare(self) -> None:
        super().prepare()
        if (self.home / "name" / "current" / "VERSION").exists():
            return
        log.info("  formatting HDFS (%s)", self.home / "name")
        argv = self.java(self.main_class, "-format", "-clusterid", "gamepipe", "-nonInteractive")
        done = subprocess.run(argv, capture_output=True, text=True, env=java_env(), check=False)
        if done.returncode != 0:
            raise ServiceFailed(f"formatting the NameNode failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def healthy(self) -> bool:
        return self.namenode_info() is not None

    def describe(self) -> str:
        host, port = self.namenode
        return f"hdfs://{host}:{port} web http://{host}:{self.settings.hdfs.http_port}"


class DataNode(HdfsNode):
    main_class = "org.apache.hadoop.hdfs.server.datanode.DataNode"
    start_timeout_s = 90.0
    startsecs = 10

    def __init__(self, settings: Settings, number: int, host: Host, shared_address: bool) -> None:
        """DataNode `number` (1, 2, ...) on `host`; `shared_address`: several DataNodes on
        one address, each on ports of its own."""
        self.name = f"datanode-{number}"
        super().__init__(settings, host)
        self.number = number
        self.heap = settings.hdfs.datanode_heap
        shift = 10 * (number - 1) if shared_address else 0
        h = settings.hdfs
        self.port = h.datanode_port + shift
        self.http_port = h.datanode_http_port + shift
        self.ipc_port = h.datanode_ipc_port + shift

    def own_properties(self) -> dict[str, str]:
        return {
            "dfs.datanode.data.dir": (self.home / "data").as_uri(),
            "dfs.datanode.hostname": self.address,
            "dfs.datanode.address": f"{self.address}:{self.port}",
            "dfs.datanode.http.address": f"{self.address}:{self.http_port}",
            "dfs.datanode.ipc.address": f"{self.address}:{self.ipc_port}",
        }

    def healthy(self) -> bool:
        """Registered: the NameNode counts it among its live DataNodes."""
        info = self.namenode_info()
        if info is None:
            return False
        live = json.loads(info.get("LiveNodes") or "{}")
        mine = f"{resolve(self.address)}:{self.port}"  # the NameNode lists addresses, not names
        return any(node.get("xferaddr") == mine for node in live.values())

    def after_start(self) -> None:
        """Wait until the NameNode has left safe mode (it does once the blocks it knows have
        reported), so the stream's first write is not refused. The DataNodes start
        together: after the first, the others find it left already."""
        deadline = time.monotonic() + SAFE_MODE_TIMEOUT_S
        while (info := self.namenode_info()) is None or info.get("Safemode"):
            if time.monotonic() > deadline:
                why = info.get("Safemode") if info else "it does not answer"
                raise StackError(f"HDFS is still in safe mode after {SAFE_MODE_TIMEOUT_S:.0f} s: {why}")
            time.sleep(0.5)

    def describe(self) -> str:
        return f"{self.address}:{self.port} blocks in {self.home / 'data'}"
