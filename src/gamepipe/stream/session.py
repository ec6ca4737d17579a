"""The Spark session of a job (the stream, table care, a replay, a benchmark's writer).

In: settings. Out: a `SparkSession` with the Iceberg extensions and the shared catalog
(`catalog.*`) as its default, the jars Maven fetched into `var/jvm/spark` (local paths,
no Ivy), the driver bound to `stream.driver_host` (127.0.0.1; a Spark cluster's executors
reach it there), no UI. Reads settings: stream.*, catalog.*, warehouse, var.
"""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from gamepipe import hdfs
from gamepipe.config import Settings
from gamepipe.errors import SetupError

ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"


def spark_jars(settings: Settings) -> list[str]:
    jars = sorted(str(p) for p in (settings.jvm / "spark").glob("*.jar"))
    if not jars:
        raise SetupError(f"no jars in {settings.jvm / 'spark'}", "run `make setup` (Maven fetch)")
    return jars


def build_session(
    settings: Settings,
    app_name: str = "gamepipe-stream",
    *,
    master: str | None = None,
    memory: str | None = None,
    java_options: str | None = None,
) -> SparkSession:
    """The Spark session of a job: the stream's master and heap unless given."""
    # Python workers (when a transform needs one) on this interpreter, not `python3` on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    s = settings
    c = s.catalog
    prefix = f"spark.sql.catalog.{c.name}"
    builder = (
        SparkSession.builder.master(master or s.stream.master)
        .appName(app_name)
        .config("spark.jars", ",".join(spark_jars(s)))
        .config("spark.driver.memory", memory or s.stream.driver_memory)
        # Where the executors reach the driver: this machine (local), or its address on
        # the cluster's network.
        .config("spark.driver.host", s.stream.driver_host)
        .config("spark.driver.bindAddress", s.stream.driver_host)
        .config("spark.executor.memory", s.stream.executor_memory)
        .config("spark.executor.cores", str(s.stream.executor_cores))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.extensions", ICEBERG_EXTENSIONS)
        .config(prefix, "org.apache.iceberg.spark.SparkCatalog")
        .config(f"{prefix}.type", "jdbc")
        .config(f"{prefix}.uri", s.jdbc_url())
        .config(f"{prefix}.jdbc.user", c.user)
        .config(f"{prefix}.jdbc.schema-version", "V1")
        .config(f"{prefix}.warehouse", s.warehouse)
        .config("spark.sql.defaultCatalog", c.name)
        .config("spark.local.dir", str(s.stream_dir / "tmp"))
    )
    if java_options:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    if hdfs.is_hdfs(s.warehouse) or hdfs.is_hdfs(s.checkpoint_dir):
        # The files Spark writes get HDFS's replication as configured (the client decides, and
        # Hadoop's client default is 3), and a write goes on when a DataNode fails under it.
        builder = builder.config("spark.hadoop.dfs.replication", str(s.hdfs.replication)).config(
            "spark.hadoop.dfs.client.block.write.replace-datanode-on-failure.best-effort", "true"
        )
    spark = builder.getOrCreate()
    # Set after start so the password never appears on a command line.
    spark.conf.set(f"{prefix}.jdbc.password", s.catalog_password())
    spark.sparkContext.setLogLevel("WARN")
    return spark
