"""`BatchWriter`: the stream's `foreachBatch`, one micro-batch into every table, exactly once.

In: a micro-batch of parsed records and its id. Out: an Iceberg append per table that
has rows in it, each commit tagged with the query id and batch id (stream/catalog.py);
the batch's event ids added to the dedup window (stream/dedup.py), saved beside the
checkpoint. Reads settings: stream.*, catalog.*.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from gamepipe.config import Settings
from gamepipe.events import Contract
from gamepipe.rollup import LANDED
from gamepipe.storage import Directory
from gamepipe.stream.catalog import BATCH_ID, EMPTY, QUERY_ID, last_batch, snapshot_before, table_name
from gamepipe.stream.dedup import Dedup, Keys, Verdict
from gamepipe.stream.status import DedupStatus
from gamepipe.stream.transform import Router, id_key_columns, without_copies
from gamepipe.tables import Role

log = logging.getLogger(__name__)

DEDUP_DIR = "gamepipe-dedup"  # in the checkpoint: the dedup window, a file per micro-batch


@dataclass(frozen=True)
class LastWrite:
    """What a batch wrote to one table."""

    batch: int
    rows: int
    committed_at: float  # epoch s
    seconds: float  # from the batch's start to the commit


class BatchWriter:
    """`foreachBatch`: one micro-batch, less its copies, into every table, each table once.

    The batch is parsed once and kept in memory. Dedup reads each record's key and says
    which rows are copies of an event id already seen; they are left out. The rest is
    appended table by table, the tables in parallel, each append an Iceberg commit whose
    snapshot summary records the query id and batch id; then the kept ids join the dedup
    window, which is saved beside the checkpoint. After a crash Spark re-runs the batch
    it had not marked done, with the same offsets; dedup starts from the window as it was
    before that batch, so it finds the same copies, and tables whose last commit already
    carries that batch id are skipped: every table gets each batch exactly once."""

    def __init__(self, spark: SparkSession, settings: Settings, contract: Contract, checkpoint: Directory) -> None:
        self.spark = spark
        self.settings = settings
        self.router = Router(contract, settings.stream)
        self.tables = self.router.tables
        self.checkpoint = checkpoint
        window_s = settings.stream.dedup_window_s
        self.dedup = Dedup(checkpoint.child(DEDUP_DIR), window_s) if window_s else None
        # Threads kept for the job's life: each new Python thread opens a py4j connection
        # and a JVM thread of its own.
        self.pool = ThreadPoolExecutor(max_workers=len(self.tables), thread_name_prefix="append")
        self.query_id: str | None = None
        self.committed: dict[str, int] = {}  # table -> last batch id in it, for this query
        self.landed_base: dict[str, int] = {}  # rollup table -> LANDED of its rows less the batch id
        self.last: dict[str, LastWrite] = {}
        self.read_seconds = 0.0  # the last batch: reading and parsing it into memory
        self.dedup_seconds = 0.0  # the last batch: finding its copies

    def start(self, batch_id: int) -> None:
        """Read the query id Spark keeps in the checkpoint, each table's last batch, and
        the dedup window as it was before `batch_id`."""
        self.query_id = json.loads(self.checkpoint.read("metadata").splitlines()[0])["id"]
        for table in self.tables:
            name = table_name(self.settings, table.name)
            self.committed[table.name] = last_batch(self.spark, name, self.query_id)
            if table.rollup is not None and table.rollup.landed:
                latest = self.spark.sql(f"SELECT max({LANDED}) FROM {name}").first()
                held = None if latest is None or latest[0] is None else int(latest[0])
                self.landed_base[table.name] = landed_base(held, self.committed[table.name])
        if self.dedup:
            trouble = self.dedup.start(batch_id)
            if trouble:
                why = "; ".join(trouble)
                log.warning("the dedup window's files: %s. Rebuilding the window from the tables' recent ids", why)
                began = time.monotonic()
                keys = self._window_from_tables(batch_id)
                self.dedup.rebuild(batch_id, keys)
                took = time.monotonic() - began
                log.info("dedup window rebuilt from the tables: %s ids in %.1f s", f"{len(keys):,}", took)

    def _window_from_tables(self, batch_id: int) -> Keys:
        """The ids the tables held before micro-batch `batch_id`, within the window (and a
        margin) of now: the all-events table, or every routed one. A table that already
        has that batch (a crash between its appends) is read as of the snapshot before it,
        so the re-run batch's own rows are not taken for copies of themselves."""
        valid = [t for t in self.tables if t.role in (Role.ROUTED, Role.ALL_EVENTS)]
        every = [t for t in valid if t.role is Role.ALL_EVENTS]
        since = time.time() - self.settings.stream.dedup_window_s - 600
        parts = []
        for table in every or valid:
            name = table_name(self.settings, table.name)
            before = snapshot_before(self.spark, name, str(self.query_id), batch_id)
            if before == EMPTY:
                continue
            as_of = (
                self.spark.table(name)
                if before is None
                else self.spark.sql(f"SELECT * FROM {name} VERSION AS OF {before}")
            )
            rows = as_of.where(F.col("received_at") >= F.timestamp_seconds(F.lit(since)))
            parts.append(rows.select(*id_key_columns()).toArrow())
        arrays = [[np.asarray(p.column(c).to_numpy(), np.int64) for p in parts] for c in ("hi", "lo", "at")]
        return Keys(*(np.concatenate(a) if a else np.empty(0, np.int64) for a in arrays))

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        if self.query_id is None:
            self.start(batch_id)
        batch.persist()
        try:
            began = time.monotonic()
            keys = batch.select(*self.router.key_columns).toArrow()  # also fills the cache
            self.read_seconds = time.monotonic() - began
            verdict = self.dedup.check(keys) if self.dedup else None
            rows, kinds = self._kept(batch, keys, verdict)
            counts = self.router.rows_per_table(kinds)
            self.dedup_seconds = time.monotonic() - began - self.read_seconds
            todo = {
                table: table_rows
                for table, table_rows in self.router.outputs(rows, self._landed(batch_id)).items()
                # Skipped: written before a crash, or nothing for this table.
                if self.committed[table] < batch_id and counts[table]
            }
            # The tables' commits are independent: append to all at once (Spark runs jobs
            # from several threads; the waits on the catalog and files overlap).
            done = self.pool.map(lambda item: self._append(item[0], item[1], batch_id), todo.items())
            for table in done:
                self.last[table] = LastWrite(batch_id, counts[table], time.time(), time.monotonic() - began)
            if self.dedup and verdict is not None:
                self.dedup.remember(batch_id, verdict)
        finally:
            batch.unpersist()

    def _landed(self, batch_id: int) -> dict[str, int]:
        """Rollup table -> the LANDED its rows of micro-batch `batch_id` carry."""
        return {table: base + batch_id for table, base in self.landed_base.items()}

    def _kept(self, batch: DataFrame, keys: pa.Table, verdict: Verdict | None) -> tuple[DataFrame, dict[Any, int]]:
        """The batch without the copies dedup found, and its rows per event type."""
        kinds = keys.column("kind")
        if verdict is None or not verdict.copy.any():
            return batch, _counts(kinds)
        # From Arrow, so no Python worker process is needed to build it.
        coordinates = self.spark.createDataFrame(keys.select(["partition", "offset"]).filter(pa.array(verdict.copy)))
        return without_copies(batch, coordinates), _counts(kinds.filter(pa.array(~verdict.copy)))

    def _append(self, table: str, rows: DataFrame, batch_id: int) -> str:
        (
            rows.writeTo(table_name(self.settings, table))
            .option("fanout-enabled", "true")  # no sort or shuffle before writing
            .option("distribution-mode", "none")
            .option(f"snapshot-property.{QUERY_ID}", str(self.query_id))
            .option(f"snapshot-property.{BATCH_ID}", str(batch_id))
            .append()
        )
        self.committed[table] = batch_id
        return table

    def dedup_status(self) -> DedupStatus | None:
        """The dedup window and what it did since the job started (None: no dedup)."""
        if not self.dedup:
            return None
        d = self.dedup
        return DedupStatus(
            window_s=self.settings.stream.dedup_window_s,
            ids_held=len(d.window),
            copies_dropped=d.copies_dropped,
            late_rows=d.late_rows,
            rebuilt_from_tables=d.rebuilt_from_tables,
            seconds=self.dedup_seconds,
        )

    def close(self) -> None:
        self.pool.shutdown(wait=False)


def _counts(kinds: pa.ChunkedArray) -> dict[Any, int]:
    """Rows per value (None: rejected records)."""
    return {v["values"]: v["counts"] for v in pc.value_counts(kinds).to_pylist()}


def landed_base(held: int | None, committed: int) -> int:
    """What to add to a micro-batch's id for the LANDED of its rollup rows, given the
    latest LANDED the table holds (None: none) and this query's last batch in it (-1:
    none). The query's batch ids go on from its checkpoint, so a restart keeps the base
    (the latest rows are that last batch's); a new checkpoint starts them at 0 again, so
    a new query's rows start past every row held. Either way LANDED grows with every
    batch, as a fold's THROUGH needs (gamepipe/rollup.py `Lifetime`)."""
    if held is None:
        return 0
    return held - committed if committed >= 0 else held + 1
