"""The streaming job: Kafka topic -> Iceberg tables.

In: records of `kafka.topic`. Out: rows appended to every table of
`gamepipe.tables.stream_tables` (each routed event type's, all valid events, the
invalid records with their reason), exactly once (stream/writer.py), and
`<stream_dir>/status.json` (stream/status.py) every two seconds for `gamepipe status`
and the stack's health check. One streaming query reads and parses the topic once per
micro-batch, checkpointed under `<stream_dir>/checkpoints/stream`; table care runs in a
child process on its own schedule (stream/maintain.py).
Reads settings: kafka.*, catalog.*, stream.*, warehouse.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from pyspark.errors import StreamingQueryException
from pyspark.sql import SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from gamepipe import hdfs
from gamepipe.config import Settings
from gamepipe.errors import ConfigError, StreamFailed
from gamepipe.events import Contract, load_contract
from gamepipe.storage import directory
from gamepipe.stream.catalog import create_tables
from gamepipe.stream.maintain import TableCare, care_round
from gamepipe.stream.session import build_session
from gamepipe.stream.status import StreamStatus
from gamepipe.stream.transform import parse
from gamepipe.stream.writer import BatchWriter

log = logging.getLogger(__name__)

CHECKPOINT = "stream"  # <stream_dir>/checkpoints/<this>: the one query's checkpoint


def start_query(spark: SparkSession, settings: Settings, contract: Contract) -> tuple[StreamingQuery, BatchWriter]:
    """One streaming query: read and parse the topic once per micro-batch; `BatchWriter` does the rest."""
    k, st = settings.kafka, settings.stream
    checkpoint = f"{settings.checkpoint_dir.rstrip('/')}/{CHECKPOINT}"
    if not hdfs.is_hdfs(checkpoint):  # an older gamepipe's checkpoints were all on local disk
        local = Path(settings.checkpoint_dir)
        stale = [t for t in st.tables if (local / t).is_dir()]
        if stale and not (local / CHECKPOINT).exists():
            raise ConfigError(
                f"found per-table checkpoints {stale} under {local} from an older gamepipe: the tables hold "
                "their events already, and the single query would read the topic again from the start",
                "start afresh with `make clean` (deletes var/, data included), or move the old checkpoints aside, "
                "drop the tables and let the stream rebuild them from Kafka",
            )
        set_aside_spark_dedup_state(local / CHECKPOINT)
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", k.bootstrap)
        .option("subscribe", k.topic)
        .option("startingOffsets", "earliest")
    )
    if st.max_rows_per_batch:
        reader = reader.option("maxOffsetsPerTrigger", str(st.max_rows_per_batch))
    source = reader.load()
    writer = BatchWriter(spark, settings, contract, directory(checkpoint))
    query = (
        parse(source, contract)
        .writeStream.queryName("gamepipe-stream")
        .foreachBatch(writer)
        .trigger(processingTime=f"{st.trigger_seconds} seconds")
        .option("checkpointLocation", checkpoint)
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
        log.warning(
            "moved %s (Spark's dedup state, no longer used) to %s; the dedup window starts empty",
            state,
            SPARK_STATE_SET_ASIDE,
        )


class Progress:
    """The query's last progress report as a plain dict, read as one string of Spark's JSON.

    PySpark's `query.lastProgress` builds its object field by field over py4j: 0.4 s per
    read, a third of a core at one read every 2 s (docs/decisions.md)."""

    def __init__(self, query: StreamingQuery) -> None:
        self._jquery = query._jsq  # the JVM's StreamingQuery; PySpark offers no JSON getter

    def last(self) -> dict[str, Any] | None:
        report = self._jquery.lastProgress()
        return None if report is None else json.loads(report.json())


def run(settings: Settings) -> None:
    started = time.time()
    contract = load_contract(settings.schemas_dir)
    status_path = settings.stream_dir / "status.json"
    status_path.parent.mkdir(parents=True, exist_ok=True)
    status_path.unlink(missing_ok=True)  # a dead job's status is not this one's
    spark = build_session(settings)
    create_tables(spark, settings, contract)
    query, writer = start_query(spark, settings, contract)
    log.info("one query writing %s", [t.name for t in writer.tables])
    # In a child process at the lowest CPU priority, beside the streaming query: Iceberg's
    # commits are optimistic.
    care = TableCare(lambda: care_round(settings), settings.stream.maintain_every_minutes * 60)
    progress = Progress(query)
    try:
        while True:
            StreamStatus.of(progress.last(), query.isActive, writer, care.status(), started).save(status_path)
            care.tick()
            try:
                if query.awaitTermination(timeout=2):
                    return
            except StreamingQueryException as error:
                raise StreamFailed(f"the stream query failed: {error}") from error
    finally:
        writer.close()
