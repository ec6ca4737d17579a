"""The streaming job: Kafka topic -> Iceberg tables.

In: records of `kafka.topic`. Out: rows appended to `<catalog>.<namespace>.<table>` for
each `stream.routes` entry, every valid event to `stream.all_events_table`, every
invalid record to `stream.rejected_table`. One streaming query reads and parses the
topic once per micro-batch; its `BatchWriter` leaves out copies of event ids already
seen (stream/dedup.py) and appends to every table: an atomic Iceberg commit per table
per batch, each tagged with the batch id so a batch re-run after a crash skips the
tables it already reached (exactly-once, with the checkpoint under
`var/stream/checkpoints/stream`). The job writes its progress to
`var/stream/status.json` for `gamepipe status` and the stack's health check.
Reads settings: kafka.*, catalog.*, stream.*, warehouse.
"""

from __future__ import annotations

import ast
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from gamepipe.config import Settings
from gamepipe.events import REJECTED_COLUMNS, Contract, load_contract
from gamepipe.stream.dedup import Dedup, Keys, Verdict
from gamepipe.stream.maintain import TableCare, care_round
from gamepipe.stream.markers import BATCH_ID, QUERY_ID
from gamepipe.stream.transform import Router, id_key_columns, parse, sql_type, without_copies

ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"


def spark_jars(settings: Settings) -> list[str]:
    jars = sorted(str(p) for p in (settings.var / "jvm" / "spark").glob("*.jar"))
    if not jars:
        raise SystemExit(f"no jars in {settings.var / 'jvm' / 'spark'}; run `make setup` (Maven fetch)")
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
    s = settings
    c = s.catalog
    prefix = f"spark.sql.catalog.{c.name}"
    builder = (
        SparkSession.builder.master(master or s.stream.master)
        .appName(app_name)
        .config("spark.jars", ",".join(spark_jars(s)))
        .config("spark.driver.memory", memory or s.stream.driver_memory)
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
        .config("spark.local.dir", str(s.stream_dir / "tmp"))
    )
    if java_options:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
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
    """Create every table the job writes that does not exist yet."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {settings.catalog.name}.`{settings.catalog.namespace}`")
    for table, columns, day_column in tables(settings, contract):
        create_table(spark, table_name(settings, table), columns, day_column)


# Every table's properties, set at creation and brought up to date at each start.
TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
    # The stream commits to a table every second and table care's rewrites commit beside
    # it: with Iceberg's defaults (4 retries, 100 ms doubling to 60 s) a rewrite lost the
    # race within ~2 s and its work was dropped (docs/decisions.md). 20 retries with
    # backoff capped at 5 s give either writer a minute and a half to get its turn.
    "commit.retry.num-retries": "20",
    "commit.retry.min-wait-ms": "100",
    "commit.retry.max-wait-ms": "5000",
}


def create_table(spark: SparkSession, name: str, columns: list[tuple[str, str]], day_column: str) -> None:
    """Create the table if it does not exist (Iceberg v2, partitioned by day), bring its
    properties up to date (`TABLE_PROPERTIES`), and add the columns a newer contract has
    to one that does (no rewrite: rows written before read the new columns as null)."""
    cols = ",\n  ".join(f"`{n}` {sql_type(k)}" for n, k in columns)
    props = ",\n  ".join(f"'{k}' = '{v}'" for k, v in TABLE_PROPERTIES.items())
    spark.sql(
        f"""CREATE TABLE IF NOT EXISTS {name} (
  {cols}
) USING iceberg
PARTITIONED BY (days(`{day_column}`))
TBLPROPERTIES (
  {props}
)"""
    )
    held = {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}
    stale = {k: v for k, v in TABLE_PROPERTIES.items() if held.get(k) != v and k != "format-version"}
    if stale:
        spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({', '.join(f'{k!r} = {v!r}' for k, v in stale.items())})")
        print(f"gamepipe stream: {name}: properties set {stale}", flush=True)
    existing = {f.name for f in spark.table(name).schema.fields}
    missing = [(n, k) for n, k in columns if n not in existing]
    if missing:
        added = ", ".join(f"`{n}` {sql_type(k)}" for n, k in missing)
        spark.sql(f"ALTER TABLE {name} ADD COLUMNS ({added})")
        print(f"gamepipe stream: {name}: added columns {[n for n, _ in missing]}", flush=True)


CHECKPOINT = "stream"  # <stream_dir>/checkpoints/<this>: the one query's checkpoint
DEDUP_DIR = "gamepipe-dedup"  # in the checkpoint: the dedup window, a file per micro-batch


class BatchWriter:
    """`foreachBatch`: one micro-batch, less its copies, into every table, each table once.

    The batch is parsed once and kept in memory. Dedup (stream/dedup.py) reads each
    record's key and says which rows are copies of an event id already seen; they are
    left out. The rest is appended table by table, the tables in parallel, each append an
    Iceberg commit whose snapshot summary records the query id and batch id; then the
    kept ids join the dedup window, which is saved beside the checkpoint. After a crash
    Spark re-runs the batch it had not marked done, with the same offsets; dedup starts
    from the window as it was before that batch, so it finds the same copies, and tables
    whose last commit already carries that batch id are skipped: every table gets each
    batch exactly once."""

    def __init__(self, spark: SparkSession, settings: Settings, contract: Contract, checkpoint: Path) -> None:
        self.spark = spark
        self.settings = settings
        self.router = Router(contract, settings.stream)
        self.checkpoint = checkpoint
        window_s = settings.stream.dedup_window_s
        self.dedup = Dedup(checkpoint / DEDUP_DIR, window_s) if window_s else None
        # Threads kept for the job's life: each new Python thread opens a py4j connection
        # and a JVM thread of its own.
        self.pool = ThreadPoolExecutor(max_workers=len(settings.stream.tables), thread_name_prefix="append")
        self.query_id: str | None = None
        self.committed: dict[str, int] = {}  # table -> last batch id in it, for this query
        self.last: dict[str, dict[str, Any]] = {}  # table -> what the last batch wrote
        self.read_seconds = 0.0  # the last batch: reading and parsing it into memory
        self.dedup_seconds = 0.0  # the last batch: finding its copies

    def start(self, batch_id: int) -> None:
        """Read the query id Spark keeps in the checkpoint, each table's last batch, and
        the dedup window as it was before `batch_id`."""
        self.query_id = json.loads((self.checkpoint / "metadata").read_text().splitlines()[0])["id"]
        for table in self.settings.stream.tables:
            self.committed[table] = last_batch(self.spark, table_name(self.settings, table), self.query_id)
        if self.dedup:
            trouble = self.dedup.start(batch_id)
            if trouble:
                print(f"gamepipe stream: the dedup window's files: {'; '.join(trouble)}. Rebuilding the window from "
                      "the tables' recent ids", flush=True)  # fmt: skip
                began = time.monotonic()
                keys = self._window_from_tables(batch_id)
                self.dedup.rebuild(batch_id, keys)
                print(f"gamepipe stream: dedup window rebuilt from the tables: {len(keys):,} ids in "
                      f"{time.monotonic() - began:.1f} s", flush=True)  # fmt: skip

    def _window_from_tables(self, batch_id: int) -> Keys:
        """The ids the tables held before micro-batch `batch_id`, within the window (and a
        margin) of now: the all-events table, or every routed one. A table that already
        has that batch (a crash between its appends) is read as of the snapshot before it,
        so the re-run batch's own rows are not taken for copies of themselves."""
        st = self.settings.stream
        tables = [st.all_events_table] if st.all_events_table else list(st.routes.values())
        since = time.time() - st.dedup_window_s - 600
        parts = []
        for table in tables:
            name = table_name(self.settings, table)
            before = snapshot_before(self.spark, name, str(self.query_id), batch_id)
            if before == EMPTY:
                continue
            as_of = (
                self.spark.table(name)
                if before is None
                else self.spark.sql(f"SELECT * FROM {name} VERSION AS OF {before}")
            )
            rows = as_of.where(F.col("received_at") >= F.timestamp_seconds(F.lit(since)))
            parts.append(rows.select(*id_key_columns()).toArrow())
        arrays = [[np.asarray(p.column(c).to_numpy(), np.int64) for p in parts] for c in ("hi", "lo", "at")]
        return Keys(*(np.concatenate(a) if a else np.empty(0, np.int64) for a in arrays))

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        if self.query_id is None:
            self.start(batch_id)
        batch.persist()
        try:
            began = time.monotonic()
            keys = batch.select(*self.router.key_columns).toArrow()  # also fills the cache
            self.read_seconds = time.monotonic() - began
            verdict = self.dedup.check(keys) if self.dedup else None
            rows, kinds = self._kept(batch, keys, verdict)
            counts = self.router.rows_per_table(kinds)
            self.dedup_seconds = time.monotonic() - began - self.read_seconds
            todo = {
                table: table_rows
                for table, table_rows in self.router.outputs(rows).items()
                # Skipped: written before a crash, or nothing for this table.
                if self.committed[table] < batch_id and counts[table]
            }
            # The tables' commits are independent: append to all at once (Spark runs jobs
            # from several threads; the waits on the catalog and files overlap).
            done = self.pool.map(lambda item: self._append(item[0], item[1], batch_id), todo.items())
            for table in done:
                self.last[table] = {"batch": batch_id, "rows": counts[table], "committed_at": time.time(),
                                    "seconds": time.monotonic() - began}  # fmt: skip
            if self.dedup and verdict is not None:
                self.dedup.remember(batch_id, verdict)
        finally:
            batch.unpersist()

    def _kept(self, batch: DataFrame, keys: pa.Table, verdict: Verdict | None) -> tuple[DataFrame, dict[Any, int]]:
        """The batch without the copies dedup found, and its rows per event type."""
        kinds = keys.column("kind")
        if verdict is None or not verdict.copy.any():
            return batch, _counts(kinds)
        # From Arrow, so no Python worker process is needed to build it.
        coordinates = self.spark.createDataFrame(keys.select(["partition", "offset"]).filter(pa.array(verdict.copy)))
        return without_copies(batch, coordinates), _counts(kinds.filter(pa.array(~verdict.copy)))

    def _append(self, table: str, rows: DataFrame, batch_id: int) -> str:
        (
            rows.writeTo(table_name(self.settings, table))
            .option("fanout-enabled", "true")  # no sort or shuffle before writing
            .option("distribution-mode", "none")
            .option(f"snapshot-property.{QUERY_ID}", str(self.query_id))
            .option(f"snapshot-property.{BATCH_ID}", str(batch_id))
            .append()
        )
        self.committed[table] = batch_id
        return table

    def status(self) -> dict[str, Any] | None:
        """The dedup window and what it did since the job started (None: no dedup)."""
        if not self.dedup:
            return None
        d = self.dedup
        return {"window_s": self.settings.stream.dedup_window_s, "ids_held": len(d.window),
                "copies_dropped": d.copies_dropped, "late_rows": d.late_rows,
                "rebuilt_from_tables": d.rebuilt_from_tables, "seconds": self.dedup_seconds}  # fmt: skip

    def close(self) -> None:
        self.pool.shutdown(wait=False)


def _counts(kinds: pa.ChunkedArray) -> dict[Any, int]:
    """Rows per value (None: rejected records)."""
    return {v["values"]: v["counts"] for v in pc.value_counts(kinds).to_pylist()}


def last_batch(spark: SparkSession, name: str, query_id: str) -> int:
    """The highest batch id of `query_id` committed to the table (-1: none)."""
    row = spark.sql(
        f"SELECT max(CAST(summary['{BATCH_ID}'] AS BIGINT)) FROM {name}.snapshots "
        f"WHERE summary['{QUERY_ID}'] = '{query_id}'"
    ).first()
    return -1 if row is None or row[0] is None else int(row[0])


EMPTY = -1  # `snapshot_before`: the table was empty before that batch


def snapshot_before(spark: SparkSession, name: str, query_id: str, batch_id: int) -> int | None:
    """The snapshot just before the one `batch_id` of `query_id` committed to the table
    (EMPTY: it was the first), or None if that batch is not in the table."""
    row = spark.sql(
        f"SELECT snapshot_id, parent_id FROM {name}.snapshots "
        f"WHERE summary['{QUERY_ID}'] = '{query_id}' AND summary['{BATCH_ID}'] = '{batch_id}'"
    ).first()
    if row is None:
        return None
    return EMPTY if row["parent_id"] is None else int(row["parent_id"])


def start_query(spark: SparkSession, settings: Settings, contract: Contract) -> tuple[StreamingQuery, BatchWriter]:
    """One streaming query: read and parse the topic once per micro-batch; `BatchWriter` does the rest."""
    k, st = settings.kafka, settings.stream
    checkpoints = settings.stream_dir / "checkpoints"
    stale = [t for t in st.tables if (checkpoints / t).is_dir()]
    if stale and not (checkpoints / CHECKPOINT).exists():
        raise SystemExit(
            f"found per-table checkpoints {stale} under {checkpoints} from an older gamepipe: the tables hold "
            "their events already, and the single query would read the topic again from the start. Start afresh "
            "with `make clean` (deletes var/, data included), or move the old checkpoints aside, drop the tables "
            "and let the stream rebuild them from Kafka."
        )
    set_aside_spark_dedup_state(checkpoints / CHECKPOINT)
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", k.bootstrap)
        .option("subscribe", k.topic)
        .option("startingOffsets", "earliest")
    )
    if st.max_rows_per_batch:
        reader = reader.option("maxOffsetsPerTrigger", str(st.max_rows_per_batch))
    source = reader.load()
    writer = BatchWriter(spark, settings, contract, checkpoints / CHECKPOINT)
    query = (
        parse(source, contract)
        .writeStream.queryName("gamepipe-stream")
        .foreachBatch(writer)
        .trigger(processingTime=f"{st.trigger_seconds} seconds")
        .option("checkpointLocation", str(checkpoints / CHECKPOINT))
        .start()
    )
    return query, writer


SPARK_STATE_SET_ASIDE = "state-of-spark-dedup"


def set_aside_spark_dedup_state(checkpoint: Path) -> None:
    """Move aside the state of Spark's dedup operator, which gamepipe used before its own
    (stream/dedup.py): Spark refuses to run a query without that operator from a
    checkpoint holding its state. Offsets and commits stay, so the stream goes on where it
    was; the ids the old operator held are not carried over (a copy of an event sent
    just before the upgrade may land twice)."""
    state = checkpoint / "state"
    if state.is_dir():
        state.rename(checkpoint / SPARK_STATE_SET_ASIDE)
        print(f"gamepipe stream: moved {state} (Spark's dedup state, no longer used) to "
              f"{SPARK_STATE_SET_ASIDE}; the dedup window starts empty", flush=True)  # fmt: skip


class Progress:
    """The query's last progress report as a plain dict, read as one string of Spark's JSON.

    PySpark's `query.lastProgress` builds its object field by field over py4j, most calls
    a class lookup across every jar on the JVM's class path: 0.4 s (~900 calls) per read,
    timed from Python; read every 2 s, that took about a third of a core from the stream
    (JFR; docs/decisions.md)."""

    def __init__(self, query: StreamingQuery) -> None:
        self._jquery = query._jsq  # the JVM's StreamingQuery; PySpark offers no JSON getter

    def last(self) -> dict[str, Any] | None:
        report = self._jquery.lastProgress()
        return None if report is None else json.loads(report.json())


def write_status(
    path: Path,
    active: bool,
    last: dict[str, Any] | None,
    writer: BatchWriter,
    tables: list[str],
    table_care: dict[str, Any],
    started: float,
) -> None:
    progress: dict[str, Any] = last or {}
    seconds = (progress.get("durationMs", {}).get("triggerExecution") or 0) / 1000
    dedup = writer.status()
    shared = {
        "active": active,
        "batch": progress.get("batchId"),
        "last_trigger": progress.get("timestamp"),
        "offsets": _offsets(progress.get("sources", [{}])[0].get("endOffset")) if progress else None,
        "late_rows": dedup["late_rows"] if dedup else 0,  # since the job started
    }
    per_table = {}
    for table in tables:
        last = writer.last.get(table, {})
        wrote_now = last.get("batch") == progress.get("batchId")
        rows = last.get("rows", 0) if wrote_now else 0
        per_table[table] = {
            **shared,
            "rows_last_batch": rows,
            "rows_per_s": rows / seconds if seconds else 0.0,
            "last_commit": last.get("committed_at"),
            "seconds_to_commit": last.get("seconds"),
        }
    status = {
        "ready": active,
        "updated": time.time(),
        "started": started,  # when this job started
        "pid": os.getpid(),
        "input_rows_per_s": progress.get("inputRowsPerSecond"),
        "batch_seconds": seconds,
        "batch_ms": progress.get("durationMs"),  # where the last batch spent its time
        "read_seconds": writer.read_seconds,
        "dedup": dedup,  # the window: ids held, copies dropped, late rows, the last batch's seconds
        "tables": per_table,
        "table_care": table_care,  # running now?, and the last round: started, seconds, report or error
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
    started = time.time()
    contract = load_contract(settings.schemas_dir)
    status_path = settings.stream_dir / "status.json"
    status_path.parent.mkdir(parents=True, exist_ok=True)
    status_path.unlink(missing_ok=True)  # a dead job's status is not this one's
    spark = build_session(settings)
    create_tables(spark, settings, contract)
    query, writer = start_query(spark, settings, contract)
    tables = settings.stream.tables
    print(f"gamepipe stream: one query writing {tables}", flush=True)
    # In a child process at the lowest CPU priority, beside the streaming query: Iceberg's
    # commits are optimistic.
    care = TableCare(lambda: care_round(settings), settings.stream.maintain_every_minutes * 60)
    progress = Progress(query)
    try:
        while True:
            care_now = {"running": care.running, **care.last}
            write_status(status_path, query.isActive, progress.last(), writer, tables, care_now, started)
            care.tick()
            # Raises (and so ends the job, non-zero) if the query failed.
            if query.awaitTermination(timeout=2):
                if query.exception() is not None:
                    raise RuntimeError(f"the stream query failed: {query.exception()}")
                return
    finally:
        writer.close()
