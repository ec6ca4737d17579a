"""Pure transforms of the stream, `DataFrame -> DataFrame`, testable without Kafka.

In: the Kafka source's rows (`value` bytes, `timestamp`, `topic`, `partition`,
`offset`). Out: one DataFrame per table: each routed event type's, all valid events,
and the rejected records with their reason. Parsing uses Spark's own `from_json` with
the schema derived from `schemas/`; no Python UDF.

A record is rejected (never stops the stream) when it is
- `not_json`: not a JSON object, or a value whose type breaks the schema
  (`schema_mismatch` when the JSON itself parses);
- `unknown_event_type` / `unknown_schema_version`: not in `schemas/`;
- `missing_<field>`: a required envelope field is absent.
Valid events are deduplicated by `event_id` within `dedup_watermark` of `received_at`.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BinaryType,
    BooleanType,
    DataType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from gamepipe.events import Contract

_SIMPLE: dict[str, DataType] = {
    "string": StringType(),
    "binary": BinaryType(),
    "int": IntegerType(),
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


CORRUPT = "_corrupt_record"


def parse(kafka_rows: DataFrame, contract: Contract) -> DataFrame:
    """Kafka rows -> `raw_event`, Kafka's coordinates, every contract field (typed) and
    `reject_reason` (null for a valid event)."""
    raw = F.col("value").cast("string")
    schema = read_schema(contract).add(CORRUPT, StringType(), True)
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    parsed = (
        kafka_rows.select(
            raw.alias("raw_event"),
            F.col("value").alias("raw_value"),
            "timestamp",
            "topic",
            "partition",
            "offset",
            F.from_json(raw, schema, options).alias("e"),
            F.get_json_object(raw, "$").isNotNull().alias("_is_json"),
        )
        .select("*", "e.*")
        .drop("e")
    )
    return parsed.withColumn("reject_reason", reject_reason(contract)).drop(CORRUPT, "_is_json")


def reject_reason(contract: Contract) -> Column:
    """Why a parsed row is not a valid event, or null."""
    versions = F.create_map(
        *[x for t in contract.event_types for x in (F.lit(t), F.array(*[F.lit(v) for v in contract.schemas[t]]))]
    )
    reason = (
        F.when(~F.col("_is_json") | F.col("event_type").isNull() & F.col(CORRUPT).isNotNull(), F.lit("not_json"))
        .when(F.col(CORRUPT).isNotNull(), F.lit("schema_mismatch"))
        .when(~F.col("event_type").isin(*contract.event_types) | F.col("event_type").isNull(),
              F.lit("unknown_event_type"))
        .when(~F.coalesce(F.array_contains(versions[F.col("event_type")], F.col("schema_version")), F.lit(False)),
              F.lit("unknown_schema_version"))
    )  # fmt: skip
    for name in contract.envelope.get("required", []):
        reason = reason.when(F.col(name).isNull(), F.lit(f"missing_{name}"))
    return reason


def valid_events(parsed: DataFrame, dedup_watermark: str | None) -> DataFrame:
    """Valid events, each `event_id` once within the watermark (client retries collapse)."""
    valid = parsed.where(F.col("reject_reason").isNull())
    if dedup_watermark is None:
        return valid
    if not valid.isStreaming:  # a batch (a replay, a test) sees all its rows at once
        return valid.dropDuplicates(["event_id"])
    return valid.withWatermark("received_at", dedup_watermark).dropDuplicatesWithinWatermark(["event_id"])


def route(valid: DataFrame, contract: Contract, event_type: str | None) -> DataFrame:
    """The rows of one event type (all of them for None), with exactly its table's columns."""
    columns: list[Column] = [F.col(name) for name, _kind in contract.table_columns(event_type)]
    rows = valid if event_type is None else valid.where(F.col("event_type") == F.lit(event_type))
    return rows.select(*columns)


def rejected(parsed: DataFrame) -> DataFrame:
    """The dead letters: reason, the raw bytes, where they were in Kafka, when."""
    return parsed.where(F.col("reject_reason").isNotNull()).select(
        F.col("reject_reason").alias("reason"),
        "raw_value",
        "raw_event",
        "topic",
        "partition",
        "offset",
        F.col("timestamp"),
        F.current_timestamp().alias("rejected_at"),
    )
