"""The streaming job: Kafka topic -> Iceberg tables.

In: records of `kafka.topic`. Out: rows appended to `<catalog>.<namespace>.<table>` for
each `stream.routes` entry, every valid event to `stream.all_events_table`, every
invalid record to `stream.rejected_table`, through Iceberg's streaming sink (an atomic commit per
micro-batch, and a batch already committed is skipped on restart: exactly-once with
the checkpoint under `var/stream/checkpoints/<table>`). The job writes its progress
to `var/stream/status.json` for `gamepipe status` and the stack's health check.
Reads settings: kafka.*, catalog.*, stream.*, warehouse.
"""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from gamepipe.config import Settings
from gamepipe.events import REJECTED_COLUMNS, Contract, load_contract
from gamepipe.stream.maintain import maintain
from gamepipe.stream.transform import parse, rejected, route, sql_type, valid_events

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


def tables(settings: Settings, contract: Contract) -> list[tuple[str, list[tuple[str, str]], str]]:
    """(table, columns, partition column) for every table the job writes."""
    out = [(table, contract.table_columns(t), "received_at") for t, table in settings.stream.routes.items()]
    if settings.stream.all_events_table:
        out.append((settings.stream.all_events_table, contract.table_columns(None), "received_at"))
    if settings.stream.rejected_table:
        out.append((settings.stream.rejected_table, list(REJECTED_COLUMNS), "timestamp"))
    return out


def create_tables(spark: SparkSession, settings: Settings, contract: Contract) -> None:
    """Create every table that does not exist yet (Iceberg v2, by day), and add the
    columns a newer contract has to those that do (no rewrite: rows written before
    read the new columns as null)."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {settings.catalog.name}.`{settings.catalog.namespace}`")
    for table, columns, day_column in tables(settings, contract):
        name = table_name(settings, table)
        cols = ",\n  ".join(f"`{n}` {sql_type(k)}" for n, k in columns)
        spark.sql(
            f"""CREATE TABLE IF NOT EXISTS {name} (
  {cols}
) USING iceberg
PARTITIONED BY (days(`{day_column}`))
TBLPROPERTIES (
  'format-version' = '2',
  'write.parquet.compression-codec' = 'zstd',
  'write.metadata.delete-after-commit.enabled' = 'true',
  'write.metadata.previous-versions-max' = '50'
)"""
        )
        existing = {f.name for f in spark.table(name).schema.fields}
        missing = [(n, k) for n, k in columns if n not in existing]
        if missing:
            added = ", ".join(f"`{n}` {sql_type(k)}" for n, k in missing)
            spark.sql(f"ALTER TABLE {name} ADD COLUMNS ({added})")
            print(f"gamepipe stream: {table}: added columns {[n for n, _ in missing]}", flush=True)


def start_queries(spark: SparkSession, settings: Settings, contract: Contract) -> list[StreamingQuery]:
    """One streaming query per table, each with its own checkpoint, each committed by
    Iceberg's streaming sink (atomic, and a batch already committed is skipped)."""
    k = settings.kafka
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", k.bootstrap)
        .option("subscribe", k.topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    parsed = parse(source, contract)
    st = settings.stream
    outputs = {table: route(valid_events(parsed, st.dedup_watermark), contract, t) for t, table in st.routes.items()}
    if st.all_events_table:
        outputs[st.all_events_table] = route(valid_events(parsed, st.dedup_watermark), contract, None)
    if st.rejected_table:
        outputs[st.rejected_table] = rejected(parsed)
    queries = []
    for table, frame in outputs.items():
        query = (
            frame.writeStream.format("iceberg")
            .queryName(table)
            .outputMode("append")
            .trigger(processingTime=f"{st.trigger_seconds} seconds")
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
            "offsets": _offsets(progress.get("sources", [{}])[0].get("endOffset")) if progress else None,
            # Rows the dedup operator dropped as later than its watermark (the late policy).
            "late_rows": sum(op.get("numRowsDroppedByWatermark", 0) for op in progress.get("stateOperators", [])),
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


def _offsets(raw: Any) -> Any:
    """Spark's endOffset as a plain object: it comes as JSON text or as a dict's repr."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return ast.literal_eval(raw)


def run(settings: Settings) -> None:
    contract = load_contract(settings.schemas_dir)
    status_path = settings.var / "stream" / "status.json"
    status_path.parent.mkdir(parents=True, exist_ok=True)
    spark = build_session(settings)
    create_tables(spark, settings, contract)
    queries = start_queries(spark, settings, contract)
    print(f"gamepipe stream: {len(queries)} queries running: {[q.name for q in queries]}", flush=True)
    every_s = settings.stream.maintain_every_minutes * 60
    next_care = time.monotonic() + every_s
    while True:
        write_status(status_path, queries)
        if every_s and time.monotonic() >= next_care:
            # Same session, beside the streaming queries: Iceberg's commits are optimistic.
            print(f"gamepipe stream: table care: {maintain(spark, settings)}", flush=True)
            next_care = time.monotonic() + every_s
        # Raises (and so ends the job, non-zero) if any query failed.
        if spark.streams.awaitAnyTermination(timeout=2):
            for q in queries:
                if q.exception() is not None:
                    raise RuntimeError(f"query {q.name} failed: {q.exception()}")
            return
