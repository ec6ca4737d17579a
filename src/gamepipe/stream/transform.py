"""Pure transforms of the stream, `DataFrame -> DataFrame`, testable without Kafka.

In: the Kafka source's rows (`value` bytes, `timestamp`, ...). Out: one DataFrame per
routed table, its columns exactly `Contract.table_columns(event_type)`. Parsing uses
Spark's own `from_json` with the schema derived from `schemas/`; no Python UDF.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DecimalType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from gamepipe.events import Contract

_SIMPLE: dict[str, DataType] = {
    "string": StringType(),
    "long": LongType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
    "timestamp": TimestampType(),
}


def spark_type(logical: str) -> DataType:
    if logical.startswith("decimal("):
        precision, scale = logical[len("decimal(") : -1].split(",")
        return DecimalType(int(precision), int(scale))
    return _SIMPLE[logical]


def read_schema(contract: Contract) -> StructType:
    """Every field any event can carry, typed: the schema `from_json` parses with."""
    return StructType([StructField(name, spark_type(kind), True) for name, kind in contract.columns().items()])


def sql_type(logical: str) -> str:
    return spark_type(logical).simpleString()


def parse(kafka_rows: DataFrame, contract: Contract) -> DataFrame:
    """Kafka rows -> `raw_event`, `timestamp` (Kafka's) and every contract field, typed."""
    raw = F.col("value").cast("string")
    return kafka_rows.select(
        raw.alias("raw_event"),
        F.col("timestamp"),
        F.from_json(raw, read_schema(contract), {"mode": "PERMISSIVE"}).alias("e"),
    ).select("raw_event", "timestamp", "e.*")


def route(parsed: DataFrame, contract: Contract, event_type: str) -> DataFrame:
    """The rows of one event type, with exactly the columns of its table."""
    columns: list[Column] = [F.col(name) for name, _kind in contract.table_columns(event_type)]
    return parsed.where(F.col("event_type") == F.lit(event_type)).select(*columns)
