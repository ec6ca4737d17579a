"""Table care: fold and merge the rollups' rows, compact small files, expire old snapshots,
remove orphan files.

Streaming commits a few files per table every trigger; left alone, an hour leaves
thousands of small files per partition and every query opens them all. A rollup
(gamepipe/rollup.py) gets a row per key from every micro-batch that holds the key; once a
received day is over, its rows are merged into one per key (`merge_rollup`); first, the
rows landed since the last round are folded into the lifetime tables, a row per player
and one per session (`fold`), and only days whose rows are all folded into every one of
them are merged. In: a Spark
session with the Iceberg catalog. Out: per table, what each Iceberg procedure did.
`gamepipe maintain` runs a round on demand; the stream job starts one every
`stream.maintain_every_minutes` (`TableCare`) as that same command in a child process
at the lowest CPU priority (`care_round`), so compaction takes only the CPU the stream
leaves. Iceberg's optimistic commits let it run beside the streaming appends. Reads
settings: catalog.*, stream.*.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import TypeAdapter
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from gamepipe.config import SETTINGS_FILE, Settings
from gamepipe.errors import CareFailed, FoldConflict, RollupConflict
from gamepipe.rollup import LANDED, THROUGH, Lifetime, Rollup
from gamepipe.stream.catalog import BATCH_ID
from gamepipe.stream.status import CareStatus, TableCareReport
from gamepipe.tables import stream_tables

log = logging.getLogger(__name__)

# Compaction's target file size. Iceberg rewrites every file under 75 % of the target, so
# at 128 MB a compacted file of 96 MB or more is left alone and a round rewrites what was
# streamed since the last one (with Iceberg's 512 MB every round rewrote the day's
# compacted files again: docs/decisions.md).
TARGET_FILE_BYTES = 128 * 1024 * 1024
# Files in no snapshot and older than this are garbage (a crashed writer's files);
# Iceberg refuses less than a day, as a concurrent writer may not have committed yet.
ORPHANS_OLDER_THAN = timedelta(days=3)

# Table care's own Spark session: one core and a small heap (it rewrites one file group
# at a time) with the serial collector; JIT left at its default (C1 only made compaction
# twice as slow: docs/decisions.md).
CARE_MASTER = "local[1]"
CARE_JAVA_OPTIONS = "-XX:+UseSerialGC"
# The scheduled round: `gamepipe maintain` at nice 19, in a process of its own, so the OS
# gives the stream's threads the CPU first (docs/decisions.md).
CARE_NICE = 19
CARE_COMMAND = ["nice", "-n", str(CARE_NICE), sys.executable, "-m", "gamepipe", "maintain", "--json"]


def expiry_bound(spark: SparkSession, name: str, keep_since: datetime) -> datetime:
    """Snapshots older than this may go: `keep_since`, or earlier if the stream's newest
    snapshot (the newest carrying a micro-batch id) or the one before it is older. The
    stream reads that batch id to know what it committed (a re-run batch skips tables
    that have it), and time-travels to the snapshot before it to rebuild a lost dedup
    window (stream/writer.py): expiry must never take either."""
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


MERGED = "gamepipe.rollup-merged"  # in the summary of a snapshot `merge_rollup` committed


@dataclass(frozen=True)
class RollupMerge:
    """The received days of a rollup to merge, as read at `snapshot`."""

    name: str
    rollup: Rollup
    snapshot: int
    days: list[date]


def current_snapshot(spark: SparkSession, name: str) -> int | None:
    """The table's newest snapshot (None: never written)."""
    current = spark.sql(f"SELECT snapshot_id FROM {name}.snapshots ORDER BY committed_at DESC LIMIT 1").first()
    return None if current is None else int(current[0])


# In the summary of a snapshot `fold` committed: its THROUGH (for people reading the
# table's history; the queries and the next fold read THROUGH from the rows).
FOLDED = "gamepipe.folded-through"


def folded_through(spark: SparkSession, name: str, snapshot: int | None) -> int:
    """THROUGH of the lifetime table's rows at `snapshot`: the rollup's rows landed up to it
    are folded in (-1: none yet)."""
    if snapshot is None:
        return -1
    row = spark.sql(f"SELECT max({THROUGH}) FROM {name} VERSION AS OF {snapshot}").first()
    return -1 if row is None or row[0] is None else int(row[0])


def fold(spark: SparkSession, name: str, lifetime: Lifetime, rollup_name: str) -> int:
    """Fold the rollup's rows landed after the lifetime table's THROUGH into it, in one
    commit that also sets THROUGH to the latest of them; the THROUGH the table has after.
    The stream appends a micro-batch's rows with a LANDED past every one before
    (stream/writer.py `landed_base`), so the rollup's snapshot read holds every row
    landed up to its latest: rows landed after it are after the new THROUGH too. The
    commit replaces the table, validated (serializable) against the snapshot read: a
    fold committed meanwhile (another round) makes Iceberg refuse it, FoldConflict,
    nothing written. So each rollup row is in the table once or, until the next round,
    read beside it (queries/headline.sql)."""
    held_at = current_snapshot(spark, name)
    through = folded_through(spark, name, held_at)
    rows_at = current_snapshot(spark, rollup_name)
    if rows_at is None:
        return through
    spark.sql(
        f"SELECT * FROM {rollup_name} VERSION AS OF {rows_at} WHERE {LANDED} > {through}"
    ).createOrReplaceTempView("gamepipe_fold_rows")
    latest = spark.sql(f"SELECT max({LANDED}) FROM gamepipe_fold_rows").first()
    if latest is None or latest[0] is None:
        return through
    held = spark.table(name) if held_at is None else spark.sql(f"SELECT * FROM {name} VERSION AS OF {held_at}")
    held.createOrReplaceTempView("gamepipe_fold_held")
    write = (
        spark.sql(lifetime.folding_sql("gamepipe_fold_held", "gamepipe_fold_rows", int(latest[0])))
        .writeTo(name)
        .option("isolation-level", "serializable")
        .option(f"snapshot-property.{FOLDED}", str(int(latest[0])))
    )
    if held_at is not None:
        write = write.option("validate-from-snapshot-id", str(held_at))
    try:
        write.overwrite(F.lit(True))
    except Exception as error:
        if ICEBERG_VALIDATION not in java_classes(error):
            raise
        raise FoldConflict(
            f"{name}: another fold committed while this one folded {rollup_name}'s rows landed after {through}",
            "nothing was written; the next round of table care folds them",
        ) from None
    return int(latest[0])


def plan_merge(
    spark: SparkSession, name: str, kept: Rollup, before: date, folded: int | None = None
) -> RollupMerge | None:
    """The received days before `before` that changed since they were last merged (their
    partition's last snapshot is not a merge), at the table's current snapshot; if a
    lifetime table folds the rollup (`folded`: its THROUGH), only days whose rows are all
    folded, so a merged row (LANDED: the latest of its rows') is folded or not as a whole."""
    snapshot = current_snapshot(spark, name)
    if snapshot is None:
        return None
    merged = {int(r[0]) for r in spark.sql(f"SELECT snapshot_id FROM {name}.snapshots "
                                           f"WHERE summary['{MERGED}'] IS NOT NULL").collect()}  # fmt: skip
    # The table is partitioned by days(received_day) (stream/catalog.py), a field Iceberg names so.
    partitions = spark.sql(
        f"SELECT partition.received_day_day AS day, last_updated_snapshot_id AS by FROM {name}.partitions "
        f"VERSION AS OF {snapshot}"
    ).collect()
    days = sorted(r["day"] for r in partitions if r["day"] is not None and r["day"] < before and r["by"] not in merged)
    if days and folded is not None:
        unfolded = spark.sql(
            f"SELECT DISTINCT received_day FROM {name} VERSION AS OF {snapshot} WHERE {LANDED} > {folded}"
        ).collect()
        days = [d for d in days if d not in {r[0] for r in unfolded}]
    return RollupMerge(name, kept, snapshot, days) if days else None


def commit_merge(spark: SparkSession, plan: RollupMerge) -> None:
    """Rewrite the planned days' rows as one per key, in one commit: Iceberg's dynamic
    partition overwrite, validated (serializable) against the snapshot the plan read. A
    row appended to one of those days since (a backlog worked off after midnight) makes
    Iceberg refuse the commit: RollupConflict, nothing written."""
    listed = ", ".join(f"DATE '{d.isoformat()}'" for d in plan.days)
    rows = spark.sql(f"SELECT * FROM {plan.name} VERSION AS OF {plan.snapshot} WHERE received_day IN ({listed})")
    rows.createOrReplaceTempView("gamepipe_rollup_rows")
    try:
        (
            spark.sql(plan.rollup.merging_sql("gamepipe_rollup_rows"))
            .writeTo(plan.name)
            .option("isolation-level", "serializable")
            .option("validate-from-snapshot-id", str(plan.snapshot))
            .option(f"snapshot-property.{MERGED}", ",".join(d.isoformat() for d in plan.days))
            .overwritePartitions()
        )
    except Exception as error:
        if ICEBERG_VALIDATION not in java_classes(error):
            raise
        raise RollupConflict(
            f"{plan.name}: rows were appended to {', '.join(map(str, plan.days))} while they were merged",
            "nothing was written; the next round of table care merges them",
        ) from None


def merge_rollup(spark: SparkSession, name: str, kept: Rollup, before: date, folded: int | None = None) -> list[date]:
    """Merge the rollup's rows into one per key in each received day before `before` that
    changed since it was last merged (and is folded, `plan_merge`); the days merged.
    Nothing is lost or counted twice: either the commit holds every row of those days,
    or RollupConflict and nothing."""
    plan = plan_merge(spark, name, kept, before, folded)
    if plan is None:
        return []
    commit_merge(spark, plan)
    return plan.days


ICEBERG_VALIDATION = "org.apache.iceberg.exceptions.ValidationException"


def java_classes(error: BaseException) -> set[str]:
    """The class names of the Java throwable behind a PySpark error, and of its causes."""
    throwable = getattr(error, "java_exception", None) or getattr(error, "_origin", None)
    names: set[str] = set()
    for _ in range(50):  # a cause chain is short; this bounds one that loops
        if throwable is None:
            break
        names.add(str(throwable.getClass().getName()))
        throwable = throwable.getCause()
    return names


def maintain(spark: SparkSession, settings: Settings, tables: list[str] | None = None) -> dict[str, TableCareReport]:
    catalog, namespace = settings.catalog.name, settings.catalog.namespace
    now = datetime.now(UTC)
    keep_since = now - timedelta(minutes=settings.stream.keep_snapshots_minutes)
    orphan_before = (now - ORPHANS_OLDER_THAN).strftime("%Y-%m-%d %H:%M:%S")
    report: dict[str, TableCareReport] = {}
    chosen = tables or settings.stream.tables
    rollups = {t.name: t.rollup for t in stream_tables(settings.stream) if t.rollup is not None}
    # Folds first, so the merges after them find the days before today folded.
    folded: dict[str, int] = {}  # rollup table -> the least THROUGH of the lifetime tables folding it
    throughs: dict[str, int] = {}  # lifetime table -> its THROUGH after this round
    for kept in stream_tables(settings.stream):
        if kept.lifetime is None or kept.folds is None:
            continue
        name, rollup_name = f"{catalog}.{namespace}.{kept.name}", f"{catalog}.{namespace}.{kept.folds}"
        through = None
        if kept.name in chosen:
            try:
                through = fold(spark, name, kept.lifetime, rollup_name)  # the THROUGH it left
            except FoldConflict as conflict:
                log.warning("%s", conflict)
        if through is None:  # not folded here, or another fold won: read what the table holds
            through = folded_through(spark, name, current_snapshot(spark, name))
        throughs[kept.name] = through
        folded[kept.folds] = min(through, folded.get(kept.folds, through))
    for table in chosen:
        ident = f"{namespace}.{table}"
        merged: list[date] = []
        if table in rollups:
            try:
                merged = merge_rollup(spark, f"{catalog}.{ident}", rollups[table], now.date(), folded.get(table))
            except RollupConflict as conflict:
                log.warning("%s", conflict)
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
        report[table] = TableCareReport(
            files_rewritten=rewrite["rewritten_data_files_count"] if rewrite else 0,
            files_added=rewrite["added_data_files_count"] if rewrite else 0,
            files_failed=rewrite["failed_data_files_count"] if rewrite else 0,
            snapshots_kept_since=expire_before,
            snapshots_expired_data_files=expire["deleted_data_files_count"] if expire else 0,
            orphan_files_removed=orphans,
            rollup_days_merged=len(merged),
            folded_through=throughs.get(table),
        )
    return report


CareReport = dict[str, TableCareReport]
_CARE_REPORT = TypeAdapter(CareReport)


def report_json(report: CareReport) -> str:
    """A round's report as one line of JSON (`gamepipe maintain --json`)."""
    return _CARE_REPORT.dump_json(report).decode()


def care_round(settings: Settings) -> CareReport:
    """One round of table care in a child process (CARE_COMMAND) with this process's
    settings, in its process group, so stopping the stack stops it too. Its log goes to
    the caller's stderr (the stream's log); its report, one JSON line, comes back."""
    # The stream's own settings file when the stack started it; else one of the child's.
    handed = {SETTINGS_FILE: os.environ[SETTINGS_FILE]} if SETTINGS_FILE in os.environ else settings.hand_down("care")
    env = {**os.environ, **handed}
    done = subprocess.run(CARE_COMMAND, stdout=subprocess.PIPE, text=True, check=False, env=env)
    if done.returncode != 0:
        raise CareFailed(f"`gamepipe maintain --json` exited with {done.returncode}; its errors are above")
    return _CARE_REPORT.validate_json(done.stdout.strip().splitlines()[-1])


class TableCare:
    """Runs `work` (a round of table care) every `every_s` seconds after the previous
    round ended (0: never), on a thread of its own, so the stream's status loop goes on
    meanwhile (a round under load takes minutes). A round that fails (a commit conflict,
    a full disk) is reported and tried again at the next one; it never stops the stream."""

    def __init__(self, work: Callable[[], CareReport], every_s: float) -> None:
        self._work = work
        self._every_s = every_s
        self._next = time.monotonic() + every_s
        self._thread: threading.Thread | None = None
        self.last = CareStatus()  # the last round that ended: started, seconds, report or error

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> CareStatus:
        return self.last.model_copy(update={"running": self.running})

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
            self.last = CareStatus(started=started, seconds=time.time() - started, error=repr(error))
            log.error("table care failed, next try in %g s: %r", self._every_s, error)
        else:
            self.last = CareStatus(started=started, seconds=time.time() - started, report=report)
            log.info("table care: %s", report_json(report))
        finally:
            self._next = time.monotonic() + self._every_s
