"""Trino, one node (coordinator that also runs tasks), on Java 25 (stack/setup.py `java25_home`).

Its `etc/` is generated under `var/trino/etc`: a catalog named `hive` (so the seed's
`--catalog hive --schema default` session works unchanged) using the Iceberg
connector over the same JDBC catalog the stream writes to. Only the Iceberg plugin is
unpacked (see jvm/trino/pom.xml): fewer plugins, faster start.
Reads settings: trino.*, catalog.*, warehouse.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from gamepipe import query
from gamepipe.errors import ConfigError, QueryError, SetupError
from gamepipe.stack.base import Launch, Service, java_env
from gamepipe.stack.setup import java25_home


class Trino(Service):
    name = "trino"
    start_timeout_s = 150.0
    startsecs = 20

    @property
    def home(self) -> Path:
        return self.settings.var / "trino"

    @property
    def install(self) -> Path:
        found = sorted((self.settings.var / "jvm" / "trino").glob("trino-server-*"))
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
                # file:// warehouses go through Trino's Hadoop file system support.
                "fs.hadoop.enabled=true",
                "",
            ]
        )

    def prepare(self) -> None:
        t = self.settings.trino
        etc = self.home / "etc"
        (etc / "catalog").mkdir(parents=True, exist_ok=True)
        (etc / "node.properties").write_text(
            "node.environment=gamepipe\nnode.id=gamepipe-1\n"
            f"node.data-dir={self.home / 'data'}\n"
            # Listen on (and announce) the configured host only, loopback by default.
            f"node.bind-ip={t.host}\nnode.internal-address={t.host}\n"
        )
        (etc / "jvm.config").write_text(
            "\n".join(
                [
                    "-server",
                    f"-Xmx{t.heap}",
                    f"-Xms{t.heap}",
                    "-XX:+UseG1GC",
                    "-XX:+ExitOnOutOfMemoryError",
                    "-XX:+HeapDumpOnOutOfMemoryError",
                    f"-XX:HeapDumpPath={self.home / 'data'}",
                    "-Djdk.attach.allowAttachSelf=true",
                    "-XX:ReservedCodeCacheSize=256M",
                    "",
                ]
            )
        )
        (etc / "config.properties").write_text(
            "\n".join(
                [
                    "coordinator=true",
                    "node-scheduler.include-coordinator=true",
                    # Every catalog on every node from the start: with static catalogs
                    # the first seconds' queries fail with NO_NODES_AVAILABLE
                    # (docs/decisions.md). The catalog file is still ours, written at start.
                    "catalog.management=dynamic",
                    f"http-server.http.port={t.port}",
                    f"discovery.uri=http://{t.host}:{t.port}",
                    "query.max-memory=768MB",
                    "query.max-memory-per-node=768MB",
                    "",
                ]
            )
        )
        (etc / "log.properties").write_text("io.trino=INFO\n")
        catalog_file = etc / "catalog" / f"{t.catalog}.properties"
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

    def healthy(self) -> bool:
        t = self.settings.trino
        try:
            with urllib.request.urlopen(f"http://{t.host}:{t.port}/v1/info", timeout=2) as resp:
                info = json.load(resp)
        except OSError:
            return False
        if info.get("starting") is not False:
            return False
        # Started is not ready: the coordinator registers itself as a worker a few seconds
        # later, and until then every query fails with NO_NODES_AVAILABLE. A query that
        # runs is the check.
        try:
            query.run(self.settings, "select 1")
        except (QueryError, OSError):
            return False
        return True

    def describe(self) -> str:
        t = self.settings.trino
        return f"http://{t.host}:{t.port} catalog={t.catalog} schema={t.schema_}"
