"""A local Spark session for the stream's transforms, and Kafka-shaped rows to feed them:
the same `parse` and `Router` the stream job runs, without Kafka or the job."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession


@contextmanager
def local_spark() -> Iterator[SparkSession]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers on this interpreter
    session = (
        SparkSession.builder.master("local[1]")
        .appName("gamepipe-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()


def kafka_rows(spark: SparkSession, values: Sequence[bytes], topic: str = "events") -> DataFrame:
    """One row per value as the Kafka source gives them: partition 0, offsets in order."""
    now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    return spark.createDataFrame(
        [(v, now, topic, 0, i) for i, v in enumerate(values)],
        "value binary, timestamp timestamp, topic string, partition int, offset long",
    )
