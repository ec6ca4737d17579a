"""The stream's status record: written by the job every trigger, read by the stack's
health check, `gamepipe status`, the benchmarks and the tests.

In: Spark's last progress report (its JSON, as a dict), the batch writer's account of
the last batch and its dedup window, table care's last round. Out: `StreamStatus`, saved
atomically to `<stream_dir>/status.json` and read back from it. No Spark import: the
readers run without a JVM.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from gamepipe.stream.writer import BatchWriter


class _Record(BaseModel):
    # Keys another version of gamepipe wrote are ignored, so its status still reads.
    model_config = ConfigDict(frozen=True, extra="ignore")


class TableWrite(_Record):
    """What the last micro-batch wrote to one table."""

    rows_last_batch: int = 0
    rows_per_s: float = 0.0
    last_commit: float | None = None  # epoch s of this job's last commit to it
    seconds_to_commit: float | None = None  # from the batch's start to that commit


class DedupStatus(_Record):
    window_s: float
    ids_held: int
    copies_dropped: int  # since the job started
    late_rows: int  # since the job started
    rebuilt_from_tables: int  # ids the window was rebuilt with at start (0: it was not)
    seconds: float  # the last batch's dedup


class TableCareReport(_Record):
    """What one round of table care did to one table (stream/maintain.py)."""

    files_rewritten: int
    files_added: int
    files_failed: int  # of groups whose commit failed (partial progress goes on with the rest)
    snapshots_kept_since: str
    snapshots_expired_data_files: int
    orphan_files_removed: int
    rollup_days_merged: int = 0  # the rollup: received days whose rows were merged, one per key
    # a lifetime table: the rollup's rows it holds, all landed up to this (-1: none; None: not one)
    folded_through: int | None = None


class CareStatus(_Record):
    running: bool = False
    started: float | None = None  # the last round that ended
    seconds: float | None = None
    report: dict[str, TableCareReport] | None = None
    error: str | None = None


class StreamStatus(_Record):
    ready: bool  # the query is active
    updated: float  # epoch s this record was written
    started: float  # epoch s the job started
    pid: int
    batch: int | None = None  # the last micro-batch
    last_trigger: str | None = None
    offsets: dict[int, int] = {}  # Kafka partition -> next offset the stream reads
    input_rows_per_s: float | None = None
    batch_seconds: float = 0.0
    batch_ms: dict[str, int] | None = None  # where the last batch spent its time (Spark's durationMs)
    read_seconds: float = 0.0  # the last batch: reading and parsing it into memory
    dedup: DedupStatus | None = None
    tables: dict[str, TableWrite] = {}
    table_care: CareStatus = CareStatus()

    @property
    def late_rows(self) -> int:
        return self.dedup.late_rows if self.dedup else 0

    def age_s(self) -> float:
        return time.time() - self.updated

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> StreamStatus | None:
        """The record at `path`; None if there is none (yet) or it is not whole."""
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            return None
        except ValidationError as error:  # mid-write is impossible (replaced whole): another version's
            log.warning("%s is not a status this gamepipe reads: %s", path, error)
            return None

    @classmethod
    def of(
        cls, progress: dict[str, Any] | None, active: bool, writer: BatchWriter, care: CareStatus, started: float
    ) -> StreamStatus:
        """The record of this moment: `progress` is Spark's last progress report."""
        p = progress or {}
        seconds = (p.get("durationMs", {}).get("triggerExecution") or 0) / 1000
        tables = {}
        for table in writer.tables:
            last = writer.last.get(table.name)
            rows = last.rows if last is not None and last.batch == p.get("batchId") else 0
            tables[table.name] = TableWrite(
                rows_last_batch=rows,
                rows_per_s=rows / seconds if seconds else 0.0,
                last_commit=last.committed_at if last else None,
                seconds_to_commit=last.seconds if last else None,
            )
        sources = p.get("sources") or [{}]
        return cls(
            ready=active,
            updated=time.time(),
            started=started,
            pid=os.getpid(),
            batch=p.get("batchId"),
            last_trigger=p.get("timestamp"),
            offsets=partition_offsets(sources[0].get("endOffset")),
            input_rows_per_s=p.get("inputRowsPerSecond"),
            batch_seconds=seconds,
            batch_ms=p.get("durationMs"),
            read_seconds=writer.read_seconds,
            dedup=writer.dedup_status(),
            tables=tables,
            table_care=care,
        )


def partition_offsets(end_offset: Any) -> dict[int, int]:
    """Spark's Kafka `endOffset` (`{"events": {"0": 12, "1": 30}}`, as JSON text, a dict
    or a dict's repr) as partition -> offset."""
    if isinstance(end_offset, str):
        try:
            end_offset = json.loads(end_offset)
        except json.JSONDecodeError:
            end_offset = ast.literal_eval(end_offset)
    if not isinstance(end_offset, dict):
        return {}
    return {int(p): int(o) for topic in end_offset.values() for p, o in topic.items()}
