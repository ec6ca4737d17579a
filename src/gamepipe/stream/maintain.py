"""Table care: compact small files, expire old snapshots, remove orphan files.

Streaming commits a few files per table every trigger; left alone, an hour leaves
thousands of small files per partition and every query opens them all. In: a Spark
session with the Iceberg catalog. Out: per table, what each Iceberg procedure did.
`gamepipe maintain` runs a round on demand; the stream job starts one every
`stream.maintain_every_minutes` (`TableCare`) as that same command in a child process
at the lowest CPU priority (`care_round`), so compaction takes only the CPU the stream
leaves. Iceberg's optimistic commits let it run beside the streaming appends. Reads
settings: catalog.*, stream.*.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

from gamepipe.config import Settings
from gamepipe.stream.markers import BATCH_ID

# Compaction's target file size. Iceberg rewrites every file under 75 % of the target;
# with its default (512 MB) the compacted files of a day partition (1.6 GB in 270-390 MB
# files after `make bench`) were all rewritten again every round: one round, with no
# traffic, was still rewriting them on both cores after 4 minutes when it was stopped.
# At 128 MB a file of 96 MB or more is left alone, so a round rewrites what was streamed
# since the last one, plus at most one smaller compacted file.
TARGET_FILE_BYTES = 128 * 1024 * 1024
# Files in no snapshot and older than this are garbage (a crashed writer's files);
# Iceberg refuses less than a day, as a concurrent writer may not have committed yet.
ORPHANS_OLDER_THAN = timedelta(days=3)

# Table care's own Spark session: one core and a small heap (it rewrites one file group
# at a time) with the serial collector. Not C1 only: it made compaction twice as slow
# (959 files, 233 MB: 101-122 s against 49-55 s with C2); what memory it saved was not
# measured as an A/B (docs/decisions.md).
CARE_MASTER = "local[1]"
CARE_JAVA_OPTIONS = "-XX:+UseSerialGC"
# The scheduled round: `gamepipe maintain` at nice 19. In a process of its own, the OS
# gives the stream's threads the CPU first; in the stream's JVM, a round took a core from
# the stream's tasks for minutes and the stream fell behind (docs/decisions.md).
CARE_COMMAND = ["nice", "-n", "19", sys.executable, "-m", "gamepipe", "maintain", "--json"]


def expiry_bound(spark: SparkSession, name: str, keep_since: datetime) -> datetime:
    """Snapshots older than this may go: `keep_since`, or earlier if the stream's newest
    snapshot (the newest carrying a micro-batch id) or the one before it is older. The
    stream reads that batch id to know what it committed (a re-run batch skips tables
    that have it), and time-travels to the snapshot before it to rebuild a lost dedup
    window (stream/job.py): expiry must never take either."""
    row = spark.sql(
        f"SELECT unix_micros(committed_at) AS at, parent_id FROM {name}.snapshots "
        f"WHERE summary['{BATCH_ID}'] IS NOT NULL ORDER BY committed_at DESC LIMIT 1"
    ).first()
    if row is None:
        return keep_since
    at = int(row["at"])
    if row["parent_id"] is not None:
        parent = spark.sql(
            f"SELECT unix_micros(committed_at) AS at FROM {name}.snapshots WHERE snapshot_id = {row['parent_id']}"
        ).first()
        if parent is not None:
            at = int(parent["at"])
    bound = datetime.fromtimestamp(at / 1_000_000, UTC)
    return min(keep_since, bound)


def maintain(spark: SparkSession, settings: Settings, tables: list[str] | None = None) -> dict[str, dict[str, Any]]:
    catalog, namespace = settings.catalog.name, settings.catalog.namespace
    now = datetime.now(UTC)
    keep_since = now - timedelta(minutes=settings.stream.keep_snapshots_minutes)
    orphan_before = (now - ORPHANS_OLDER_THAN).strftime("%Y-%m-%d %H:%M:%S")
    report: dict[str, dict[str, Any]] = {}
    for table in tables or settings.stream.tables:
        ident = f"{namespace}.{table}"
        expire_before = expiry_bound(spark, f"{catalog}.{ident}", keep_since).strftime("%Y-%m-%d %H:%M:%S.%f")
        rewrite = spark.sql(
            f"CALL {catalog}.system.rewrite_data_files(table => '{ident}', "
            "options => map('min-input-files', '5', 'partial-progress.enabled', 'true', "
            f"'target-file-size-bytes', '{TARGET_FILE_BYTES}'))"
        ).first()
        expire = spark.sql(
            f"CALL {catalog}.system.expire_snapshots(table => '{ident}', "
            f"older_than => TIMESTAMP '{expire_before}', retain_last => {settings.stream.keep_last_snapshots})"
        ).first()
        orphans = spark.sql(
            f"CALL {catalog}.system.remove_orphan_files(table => '{ident}', older_than => TIMESTAMP '{orphan_before}')"
        ).count()
        report[table] = {
            "files_rewritten": rewrite["rewritten_data_files_count"] if rewrite else 0,
            "files_added": rewrite["added_data_files_count"] if rewrite else 0,
            # Files of groups whose commit failed (partial progress goes on with the rest).
            "files_failed": rewrite["failed_data_files_count"] if rewrite else 0,
            "snapshots_kept_since": expire_before,
            "snapshots_expired_data_files": expire["deleted_data_files_count"] if expire else 0,
            "orphan_files_removed": orphans,
        }
    return report


def care_round(settings: Settings) -> dict[str, dict[str, Any]]:
    """One round of table care in a child process (CARE_COMMAND), in the caller's process
    group, so stopping the stack stops it too. Its log goes to the caller's stderr (the
    stream's log); its report, one JSON line, comes back."""
    done = subprocess.run(CARE_COMMAND, stdout=subprocess.PIPE, text=True, check=False,
                          env={**os.environ, "GAMEPIPE_VAR_DIR": str(settings.var)})  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"`gamepipe maintain --json` exited with {done.returncode}; its errors are above")
    report: dict[str, dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


class TableCare:
    """Runs `work` (a round of table care) every `every_s` seconds after the previous
    round ended (0: never), on a thread of its own, so the stream's status loop goes on
    meanwhile: a round under load takes minutes (4.5 in `make bench` when it ran in the
    stream's JVM), and while one ran on the loop's thread `status.json` went stale and the
    stream looked unhealthy. A round that fails (a commit conflict, a
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
