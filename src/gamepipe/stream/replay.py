"""Rebuild tables from Kafka into new tables: `gamepipe replay`.

In: the tables to rebuild (any the stream writes), where in the topic to start and stop
(`earliest`/`latest`, a time, or offsets per partition as Spark's JSON). Out: a table
`<table><suffix>` for each, created fresh with the original's columns and partitioning,
holding what the stream would have written for that stretch of the topic: the same
parsing, routing and dedup, in one batch. Use it after fixing a bug or adding a route,
or to check the stream. It equals the original over the same records, except that
- copies of one event id are collapsed over the whole stretch (the stream: within its
  dedup window);
- `rejected_at` is the time of the replay.
Reads settings: kafka.*, catalog.*, stream.*.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession

from gamepipe.config import Settings
from gamepipe.errors import ReplayError
from gamepipe.events import Contract
from gamepipe.stream.catalog import create_table, table_name
from gamepipe.stream.transform import Router, deduplicate, parse
from gamepipe.tables import Role, stream_tables

log = logging.getLogger(__name__)


OFFSETS_EXAMPLE = '{"events": {"0": 120, "1": 98}}'


@dataclass(frozen=True)
class Position:
    """Where in the topic: Spark's Kafka option name and value."""

    option: str  # startingOffsets / startingTimestamp / endingOffsets / endingTimestamp
    value: str


def position(text: str, *, start: bool) -> Position:
    """`earliest`/`latest`, an ISO time (`2026-11-28T10:00:00Z`) or offsets per partition
    (`{"events": {"0": 120, "1": 98}}`)."""
    kind = "starting" if start else "ending"
    edge = "earliest" if start else "latest"
    text = text.strip()
    if text == edge:
        return Position(f"{kind}Offsets", edge)
    if text.startswith("{"):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReplayError(f"offsets {text!r} are not JSON ({exc}); e.g. '{OFFSETS_EXAMPLE}'") from None
        return Position(f"{kind}Offsets", text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ReplayError(
            f"{text!r} is not {edge}, a time like 2026-11-28T10:00:00Z, nor offsets like '{OFFSETS_EXAMPLE}'"
        ) from None
    if when.tzinfo is None:
        raise ReplayError(f"time {text!r} has no time zone; add Z for UTC (e.g. {text}Z)")
    return Position(f"{kind}Timestamp", str(int(when.timestamp() * 1000)))


def check_request(settings: Settings, chosen: list[str], suffix: str) -> None:
    """Refuse tables the stream does not write and a suffix that is not a name's end."""
    known = [t.name for t in stream_tables(settings.stream) if t.role is not Role.LIFETIME]
    cared = [t.name for t in stream_tables(settings.stream) if t.role is Role.LIFETIME and t.name in chosen]
    if cared:
        raise ReplayError(f"{cared} are folded by table care from the rollup, not written by the stream; "
                          f"replay the rollup instead (one of {known})")  # fmt: skip
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise ReplayError(f"unknown table(s) {unknown}; the stream writes {known}")
    if not suffix or not suffix.replace("_", "").isalnum():
        raise ReplayError(f"suffix {suffix!r} must be letters, digits and _ (e.g. _replay)")


def replay(
    spark: SparkSession,
    settings: Settings,
    contract: Contract,
    chosen: list[str],
    start: Position,
    end: Position,
    suffix: str,
    replace: bool = False,
) -> dict[str, int]:
    """Rebuild `chosen` tables into `<table><suffix>`; returns rows written per new table.
    Logs each step (records read, each table begun and written)."""
    check_request(settings, chosen, suffix)
    layout = {t.name: t for t in stream_tables(settings.stream)}
    targets = {table: table_name(settings, table + suffix) for table in chosen}
    existing = [name for name in targets.values() if spark.catalog.tableExists(name)]
    if existing and not replace:
        raise ReplayError(f"{existing} exist already; choose another --suffix or pass --replace")

    source = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka.bootstrap)
        .option("subscribe", settings.kafka.topic)
        .option(start.option, start.value)
        .option(end.option, end.value)
        # A start time after a partition's last record starts it at its end (nothing to read).
        .option("startingOffsetsByTimestampStrategy", "latest")
        .load()
    )
    parsed = parse(source, contract)
    rows = (deduplicate(parsed) if settings.stream.dedup_window_s else parsed).persist()
    written = {}
    try:
        began = time.monotonic()
        read, took = rows.count(), time.monotonic() - began
        log.info("read %s records from %s (copies left out) in %.0f s", f"{read:,}", settings.kafka.topic, took)
        frames = Router(contract, settings.stream).outputs(rows)
        for table, target in targets.items():
            began = time.monotonic()
            log.info("writing %s ...", target)
            if replace:
                spark.sql(f"DROP TABLE IF EXISTS {target} PURGE")
            create_table(spark, target, layout[table].columns(contract), layout[table].day_column)
            frames[table].writeTo(target).option("fanout-enabled", "true").append()
            written[table + suffix] = spark.table(target).count()
            log.info("%s: %s rows in %.0f s", table + suffix, f"{written[table + suffix]:,}", time.monotonic() - began)
    finally:
        rows.unpersist()
    return written
