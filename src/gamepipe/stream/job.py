"""The streaming job: Kafka topic -> one Iceberg table per routed event type.

In: records of `kafka.topic`. Out: rows appended to `<catalog>.<namespace>.<table>` for
each `stream.routes` entry, through Iceberg's streaming sink (an atomic commit per
micro-batch, and a batch already committed is skipped on restart: exactly-once with
the checkpoint under `var/stream/checkpoints/<table>`). The job writes its progress
to `var/stream/status.json` for `gamepipe status` and the stack's health check.
Reads settings: kafka.*, catalog.*, stream.*, warehouse.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from gamepipe.config import Settings
from gamepipe.events import Contract, load_contract
from gamepipe.stream.transform import parse, route, sql_type

ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"


def spark_jars(settings: Settings) -> list[str]:
    jars = sorted(str(p) for p in (settings.var / "jvm" / "spark").glob("*.jar"))
    if not jars:
        raise SystemExit(f"no jars in {settings.var / 'jvm' / 'spark'}; run `make setup` (Maven fetch)")
    return jars


def build_session(settings: Settings, app_name: str = "gamepipe-stream") -> SparkSession:
    s = settings
    c = s.catalog
    prefix = f"spark.sql.catalog.{c.name}"
    builder = (
        SparkSession.builder.master(s.stream.master)
        .appName(app_name)
        .config("spark.jars", ",".join(spark_jars(s)))
        .config("spark.driver.memory", s.stream.driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
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
        .config("spark.local.dir", str(s.var / "stream" / "tmp"))
    )
    spark = builder.getOrCreate()
    # Set after start so the password never appears on a command line.
    spark.conf.set(f"{prefix}.jdbc.password", s.catalog_password())
    spark.sparkContext.setLogLevel("WARN")
    return spark


def table_name(settings: Settings, table: str) -> str:
    return f"{settings.catalog.name}.`{settings.catalog.namespace}`.{table}"


def create_tables(spark: SparkSession, settings: Settings, contract: Contract) -> None:
    """Create every routed table that does not exist yet (Iceberg v2, by event day),
    and add the columns a newer contract has to those that do (no rewrite: rows
    written before read the new columns as null)."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {settings.catalog.name}.`{settings.catalog.namespace}`")
    for event_type, table in settings.stream.routes.items():
        cols = ",\n  ".join(f"`{name}` {sql_type(kind)}" for name, kind in contract.table_columns(event_type))
        spark.sql(
            f"""CREATE TABLE IF NOT EXISTS {table_name(settings, table)} (
  {cols}
) USING iceberg
PARTITIONED BY (days(received_at))
TBLPROPERTIES (
  'format-version' = '2',
  'write.parquet.compression-codec' = 'zstd',
  'write.metadata.delete-after-commit.enabled' = 'true',
  'write.metadata.previous-versions-max' = '50'
)"""
        )
        existing = {f.name for f in spark.table(table_name(settings, table)).schema.fields}
        missing = [(n, k) for n, k in contract.table_columns(event_type) if n not in existing]
        if missing:
            added = ", ".join(f"`{n}` {sql_type(k)}" for n, k in missing)
            spark.sql(f"ALTER TABLE {table_name(settings, table)} ADD COLUMNS ({added})")
            print(f"gamepipe stream: {table}: added columns {[n for n, _ in missing]}", flush=True)


def start_queries(spark: SparkSession, settings: Settings, contract: Contract) -> list[StreamingQuery]:
    k = settings.kafka
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", k.bootstrap)
        .option("subscribe", k.topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    parsed = parse(source, contract)
    queries = []
    for event_type, table in settings.stream.routes.items():
        query = (
            route(parsed, contract, event_type)
            .writeStream.format("iceberg")
            .queryName(table)
            .outputMode("append")
            .trigger(processingTime=f"{settings.stream.trigger_seconds} seconds")
            .option("checkpointLocation", str(settings.var / "stream" / "checkpoints" / table))
            .option("fanout-enabled", "true")
            .toTable(table_name(settings, table))
        )
        queries.append(query)
    return queries


def write_status(path: Path, queries: list[StreamingQuery]) -> None:
    tables = {}
    for q in queries:
        progress: dict[str, Any] = q.lastProgress or {}
        sink_rows = progress.get("numInputRows")
        tables[q.name] = {
            "active": q.isActive,
            "batch": progress.get("batchId"),
            "last_trigger": progress.get("timestamp"),
            "input_rows": sink_rows,
            "rows_per_s": progress.get("processedRowsPerSecond"),
            "offsets": progress.get("sources", [{}])[0].get("endOffset") if progress else None,
        }
    status = {
        "ready": all(q.isActive for q in queries),
        "updated": time.time(),
        "pid": os.getpid(),
        "tables": tables,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=2))
    tmp.replace(path)


def run(settings: Settings) -> None:
    contract = load_contract(settings.schemas_dir)
    status_path = settings.var / "stream" / "status.json"
    status_path.parent.mkdir(parents=True, exist_ok=True)
    spark = build_session(settings)
    create_tables(spark, settings, contract)
    queries = start_queries(spark, settings, contract)
    print(f"gamepipe stream: {len(queries)} queries running: {[q.name for q in queries]}", flush=True)
    while True:
        write_status(status_path, queries)
        # Raises (and so ends the job, non-zero) if any query failed.
        if spark.streams.awaitAnyTermination(timeout=2):
            for q in queries:
                if q.exception() is not None:
                    raise RuntimeError(f"query {q.name} failed: {q.exception()}")
            return
