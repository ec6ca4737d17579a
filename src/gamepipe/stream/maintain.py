"""Table care: compact small files, expire old snapshots, remove orphan files.

Streaming commits a few files per table every trigger; left alone, an hour leaves
thousands of small files per partition and every query opens them all. In: a Spark
session with the Iceberg catalog. Out: per table, what each Iceberg procedure did.
The stream job runs this every `stream.maintain_every_minutes` on a thread of its own
(`TableCare`), in its session; `gamepipe maintain` runs it on demand. Iceberg's
optimistic commits let it run beside the streaming appends. Reads settings: catalog.*,
stream.*.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

from gamepipe.config import Settings

# Compaction's target file size. Iceberg rewrites every file under 75 % of the target;
# with its default (512 MB) the compacted files of a day partition (1.6 GB in 270-390 MB
# files after `make bench`) were all rewritten again every round: one round, with no
# traffic, was still rewriting them on both cores after 4 minutes when it was stopped.
# At 128 MB a file of 96 MB or more is left alone, so a round rewrites what was streamed
# since the last one, plus at most one smaller compacted file.
TARGET_FILE_BYTES = 128 * 1024 * 1024
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
            "options => map('min-input-files', '5', 'partial-progress.enabled', 'true', "
            f"'target-file-size-bytes', '{TARGET_FILE_BYTES}'))"
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


class TableCare:
    """Runs `work` (a round of table care) every `every_s` seconds after the previous
    round ended (0: never), on a thread of its own, so the stream's status loop goes on
    meanwhile: under load (`make bench`: the memory benchmark, then the 20,000 events/s
    soak) one round took 4.5 minutes, and while it ran on the loop's thread `status.json`
    went stale and the stream looked unhealthy. A round that fails (a commit conflict, a
    full disk) is reported and tried again at the next one; it never stops the stream."""

    def __init__(self, work: Callable[[], dict[str, Any]], every_s: float) -> None:
        self._work = work
        self._every_s = every_s
        self._next = time.monotonic() + every_s
        self._thread: threading.Thread | None = None
        self.last: dict[str, Any] = {}  # the last round that ended: started, seconds, report or error

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def tick(self) -> bool:
        """Start a round if one is due and none is running; True if one started."""
        if not self._every_s or self.running or time.monotonic() < self._next:
            return False
        self._thread = threading.Thread(target=self._round, name="table-care", daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Until the running round (if any) ends."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _round(self) -> None:
        started = time.time()
        try:
            report = self._work()
        except Exception as error:  # noqa: BLE001 -- reported and retried; the stream goes on
            self.last = {"started": started, "seconds": time.time() - started, "error": repr(error)}
            print(f"gamepipe stream: table care failed, next try in {self._every_s:g} s: {error!r}", flush=True)
        else:
            self.last = {"started": started, "seconds": time.time() - started, "report": report}
            print(f"gamepipe stream: table care: {report}", flush=True)
        finally:
            self._next = time.monotonic() + self._every_s
