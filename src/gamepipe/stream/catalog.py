"""The stream's tables in the Iceberg catalog: created, kept up to date, and the marks each
append leaves in its snapshot.

In: a Spark session, settings, the contract. Out: every table of
`gamepipe.tables.stream_tables` created if missing (Iceberg v2, partitioned by day,
`TABLE_PROPERTIES`), new contract columns added (metadata only), and lookups of the
`QUERY_ID` / `BATCH_ID` marks: which micro-batch a table last got (a re-run batch skips
tables that have it), and the snapshot before a batch (to rebuild a lost dedup window).
Table care never expires the newest marked snapshot (stream/maintain.py). Reads
settings: catalog.name, catalog.namespace, stream.*.
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

from gamepipe.config import Settings
from gamepipe.events import Contract
from gamepipe.rollup import LANDED
from gamepipe.stream.transform import sql_type
from gamepipe.tables import stream_tables

log = logging.getLogger(__name__)

QUERY_ID = "gamepipe.query-id"
BATCH_ID = "gamepipe.batch-id"

# Every table's properties, set at creation and brought up to date at each start.
TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
    # The stream commits to a table every second and table care's rewrites commit beside
    # it: 20 retries with backoff capped at 5 s give either writer a minute and a half to
    # get its turn (Iceberg's 4 within ~2 s lost rewrites: docs/decisions.md).
    "commit.retry.num-retries": "20",
    "commit.retry.min-wait-ms": "100",
    "commit.retry.max-wait-ms": "5000",
}


def table_name(settings: Settings, table: str) -> str:
    return f"{settings.catalog.name}.`{settings.catalog.namespace}`.{table}"


def create_tables(spark: SparkSession, settings: Settings, contract: Contract) -> None:
    """Create every table the job writes that does not exist yet."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {settings.catalog.name}.`{settings.catalog.namespace}`")
    for table in stream_tables(settings.stream):
        name = table_name(settings, table.name)
        added = create_table(spark, name, table.columns(contract), table.day_column)
        if table.lifetime is not None and added:
            # Its rows were folded without the new columns: emptied, so the next round of
            # table care folds the rollup's every row again (until then the queries read
            # those rows as landed since the fold: the same answers, more slowly).
            spark.sql(f"DELETE FROM {name}")
            log.info("%s: emptied, to be folded again with its new columns %s", name, added)
        if table.rollup is not None and table.rollup.landed:
            fill_landed(spark, name)


def fill_landed(spark: SparkSession, name: str) -> None:
    """Rows from before LANDED landed before any fold: 0, never null (the queries compare
    LANDED as it is, so Trino prunes files by it). Looked for at every start, so a crash
    after the column was added still ends with none null; files without nulls are
    skipped by their column statistics, so it reads nothing once done."""
    if spark.sql(f"SELECT 1 FROM {name} WHERE {LANDED} IS NULL LIMIT 1").first() is not None:
        spark.sql(f"UPDATE {name} SET {LANDED} = 0 WHERE {LANDED} IS NULL")
        log.info("%s: %s set to 0 in the rows written before it", name, LANDED)


def create_table(spark: SparkSession, name: str, columns: list[tuple[str, str]], day_column: str | None) -> list[str]:
    """Create the table if it does not exist (Iceberg v2, partitioned by day unless
    `day_column` is None), bring its properties up to date (`TABLE_PROPERTIES`), and add
    the columns a newer contract has to one that does (no rewrite: rows written before
    read the new columns as null); the columns it added."""
    cols = ",\n  ".join(f"`{n}` {sql_type(k)}" for n, k in columns)
    props = ",\n  ".join(f"'{k}' = '{v}'" for k, v in TABLE_PROPERTIES.items())
    spark.sql(
        f"""CREATE TABLE IF NOT EXISTS {name} (
  {cols}
) USING iceberg
{f"PARTITIONED BY (days(`{day_column}`))" if day_column else ""}
TBLPROPERTIES (
  {props}
)"""
    )
    held = {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}
    stale = {k: v for k, v in TABLE_PROPERTIES.items() if held.get(k) != v and k != "format-version"}
    if stale:
        spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({', '.join(f'{k!r} = {v!r}' for k, v in stale.items())})")
        log.info("%s: properties set %s", name, stale)
    existing = {f.name for f in spark.table(name).schema.fields}
    missing = [(n, k) for n, k in columns if n not in existing]
    if missing:
        added = ", ".join(f"`{n}` {sql_type(k)}" for n, k in missing)
        spark.sql(f"ALTER TABLE {name} ADD COLUMNS ({added})")
        log.info("%s: added columns %s", name, [n for n, _ in missing])
    return [n for n, _ in missing]


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
