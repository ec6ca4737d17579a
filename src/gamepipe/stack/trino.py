"""Trino on Java 25 (stack/setup.py `java25_home`): one node, the coordinator running
tasks too; or, in the cluster profile, a coordinator and workers (`TrinoWorker`), each a
host of its own.

Its `etc/` is generated under `var/trino/etc`: a catalog named `hive` (so the seed's
`--catalog hive --schema default` session works unchanged) using the Iceberg
connector over the same JDBC catalog the stream writes to. Only the Iceberg plugin is
unpacked (see jvm/trino/pom.xml): fewer plugins, faster start.
Reads settings: trino.*, catalog.*, warehouse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.errors import ConfigError, QueryError, SetupError
from gamepipe.stack.base import Launch, Service, get_json, java_env
from gamepipe.stack.hosts import Host, resolve
from gamepipe.stack.setup import java25_home


class Trino(Service):
    """The coordinator (`trino.host`); with workers (`workers`) it leaves the work to them."""

    name = "trino"
    start_timeout_s = 150.0
    startsecs = 20

    def __init__(self, settings: Settings, host: Host | None = None, workers: int = 0) -> None:
        super().__init__(settings)
        self.address = settings.trino.host
        self.host = host or Host(self.address)
        self.workers = workers

    @property
    def heap(self) -> str:
        return self.settings.trino.heap

    @property
    def home(self) -> Path:
        return self.settings.var / self.name

    @property
    def install(self) -> Path:
        found = sorted((self.settings.jvm / "trino").glob("trino-server-*"))
        if not found:
            raise SetupError("Trino server missing under var/jvm/trino", "run `make setup` (Maven fetch)")
        return found[-1]

    def catalog_properties(self) -> str:
        s = self.settings
        c = s.catalog
        if c.type != "jdbc":
            raise ConfigError(f"catalog.type={c.type!r}: the local stack runs the jdbc catalog only")
        return "\n".join(
            [
                "connector.name=iceberg",
                "iceberg.catalog.type=jdbc",
                "iceberg.jdbc-catalog.driver-class=org.postgresql.Driver",
                f"iceberg.jdbc-catalog.connection-url={s.jdbc_url()}",
                f"iceberg.jdbc-catalog.connection-user={c.user}",
                f"iceberg.jdbc-catalog.connection-password={s.catalog_password()}",
                f"iceberg.jdbc-catalog.catalog-name={c.name}",
                f"iceberg.jdbc-catalog.default-warehouse-dir={s.warehouse}",
                # file:// and hdfs:// warehouses go through Trino's Hadoop file system support.
                "fs.hadoop.enabled=true",
                "",
            ]
        )

    def config_properties(self) -> list[str]:
        t = self.settings.trino
        return [
            "coordinator=true",
            # With workers the coordinator only plans; alone it does the work too.
            f"node-scheduler.include-coordinator={'false' if self.workers else 'true'}",
            # Every catalog on every node from the start: with static catalogs the first
            # seconds' queries fail with NO_NODES_AVAILABLE (docs/decisions.md). The
            # catalog file is still ours, written at start.
            "catalog.management=dynamic",
            f"http-server.http.port={t.port}",
            f"discovery.uri=http://{t.host}:{t.port}",
            f"query.max-memory={t.memory_per_node}",
            f"query.max-memory-per-node={t.memory_per_node}",
            # `x in (select ...)` stays a semi-join, built from the subquery: rewritten into an
            # inner join, the planner (not knowing the subquery's size) built its hash table from
            # the table filtered instead (session_lengths at 10 M: 856 -> 428 ms; docs/decisions.md).
            "optimizer.rewrite-filtering-semi-join-to-inner-join=false",
            # With workers, a query a lost worker took part in runs again (results up to 32 MB:
            # no exchange manager needed).
            *(["retry-policy=QUERY"] if self.workers else []),
        ]

    def prepare(self) -> None:
        etc = self.home / "etc"
        (etc / "catalog").mkdir(parents=True, exist_ok=True)
        (etc / "node.properties").write_text(
            f"node.environment=gamepipe\nnode.id=gamepipe-{self.name}\n"
            f"node.data-dir={self.home / 'data'}\n"
            # Listen on (and announce) its own address only, loopback by default (a name,
            # as the docker profile's `trino`: the address it resolves to).
            f"node.bind-ip={resolve(self.address)}\nnode.internal-address={self.address}\n"
        )
        jvm = [
            "-server",
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            "-XX:+UseG1GC",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:+HeapDumpOnOutOfMemoryError",
            f"-XX:HeapDumpPath={self.home / 'data'}",
            "-Djdk.attach.allowAttachSelf=true",
            "-XX:ReservedCodeCacheSize=256M",
        ]
        (etc / "jvm.config").write_text("\n".join([*jvm, ""]))
        (etc / "config.properties").write_text("\n".join([*self.config_properties(), ""]))
        (etc / "log.properties").write_text("io.trino=INFO\n")
        catalog_file = etc / "catalog" / f"{self.settings.trino.catalog}.properties"
        catalog_file.write_text(self.catalog_properties())
        catalog_file.chmod(0o600)  # holds the catalog database password

    def launch(self) -> Launch:
        argv = [
            str(self.install / "bin" / "launcher"),
            "run",
            f"--etc-dir={self.home / 'etc'}",
            f"--data-dir={self.home / 'data'}",
        ]
        return Launch(argv, java_env(str(java25_home(self.settings))), self.home)

    def node_info(self) -> dict[str, Any] | None:
        info: dict[str, Any] | None = get_json(f"http://{self.address}:{self.settings.trino.port}/v1/info")
        return info

    def healthy(self) -> bool:
        info = self.node_info()
        if info is None or info.get("starting") is not False:
            return False
        # Started is not ready: a node registers with the coordinator seconds later, and
        # until one has, every query fails with NO_NODES_AVAILABLE. A query that runs is
        # the check.
        try:
            query.run(self.settings, "select 1")
        except (QueryError, OSError):
            return False
        return True

    def describe(self) -> str:
        t = self.settings.trino
        workers = f" workers={self.workers}" if self.workers else ""
        return f"http://{t.host}:{t.port} catalog={t.catalog} schema={t.schema_}{workers}"


class TrinoWorker(Trino):
    """Worker `number`, at `address`, discovering the coordinator at `trino.host`."""

    def __init__(self, settings: Settings, number: int, host: Host) -> None:
        super().__init__(settings, host)
        self.name = f"trino-worker-{number}"
        self.address = host.address

    @property
    def heap(self) -> str:
        return self.settings.trino.worker_heap

    def config_properties(self) -> list[str]:
        t = self.settings.trino
        return [
            "coordinator=false",
            "catalog.management=dynamic",
            f"http-server.http.port={t.port}",
            f"discovery.uri=http://{t.host}:{t.port}",
            f"query.max-memory-per-node={t.memory_per_node}",
            "retry-policy=QUERY",
        ]

    def healthy(self) -> bool:
        """Started, and the coordinator counts it among its active workers."""
        info = self.node_info()
        if info is None or info.get("starting") is not False:
            return False
        sql = (
            f"select count(*) from system.runtime.nodes where http_uri like '%//{self.address}:%' and state = 'active'"
        )
        try:
            return bool(query.run(self.settings, sql).scalar())
        except (QueryError, OSError):
            return False

    def describe(self) -> str:
        return f"http://{self.address}:{self.settings.trino.port} worker of {self.settings.trino.host}"
