"""Table care: compact small files, expire old snapshots, remove orphan files.

Streaming commits a few files per table every trigger; left alone, an hour leaves
thousands of small files per partition and every query opens them all. In: a Spark
session with the Iceberg catalog. Out: per table, what each Iceberg procedure did.
The stream job runs this every `stream.maintain_every_minutes` on its own session;
`gamepipe maintain` runs it on demand. Iceberg's optimistic commits let it run beside
the streaming appends. Reads settings: catalog.*, stream.*.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

from gamepipe.config import Settings

# Snapshots younger than this stay (time travel, readers mid-query); so do the last few.
KEEP_SNAPSHOTS_FOR = timedelta(minutes=15)
KEEP_LAST_SNAPSHOTS = 10
# Files in no snapshot and older than this are garbage (a crashed writer's files);
# Iceberg refuses less than a day, as a concurrent writer may not have committed yet.
ORPHANS_OLDER_THAN = timedelta(days=3)


def maintain(spark: SparkSession, settings: Settings, tables: list[str] | None = None) -> dict[str, dict[str, Any]]:
    catalog, namespace = settings.catalog.name, settings.catalog.namespace
    now = datetime.now(UTC)
    expire_before = (now - KEEP_SNAPSHOTS_FOR).strftime("%Y-%m-%d %H:%M:%S")
    orphan_before = (now - ORPHANS_OLDER_THAN).strftime("%Y-%m-%d %H:%M:%S")
    report: dict[str, dict[str, Any]] = {}
    for table in tables or settings.stream.tables:
        ident = f"{namespace}.{table}"
        rewrite = spark.sql(
            f"CALL {catalog}.system.rewrite_data_files(table => '{ident}', "
            "options => map('min-input-files', '5', 'partial-progress.enabled', 'true'))"
        ).first()
        expire = spark.sql(
            f"CALL {catalog}.system.expire_snapshots(table => '{ident}', "
            f"older_than => TIMESTAMP '{expire_before}', retain_last => {KEEP_LAST_SNAPSHOTS})"
        ).first()
        orphans = spark.sql(
            f"CALL {catalog}.system.remove_orphan_files(table => '{ident}', older_than => TIMESTAMP '{orphan_before}')"
        ).count()
        report[table] = {
            "files_rewritten": rewrite["rewritten_data_files_count"] if rewrite else 0,
            "files_added": rewrite["added_data_files_count"] if rewrite else 0,
            "snapshots_expired_data_files": expire["deleted_data_files_count"] if expire else 0,
            "orphan_files_removed": orphans,
        }
    return report
