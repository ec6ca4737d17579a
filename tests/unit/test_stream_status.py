"""The stream's status bookkeeping, without Spark: late rows summed over batches."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from gamepipe.stream.job import LateRows


def progress(batch: int, dropped: int) -> dict[str, Any]:
    return {"batchId": batch, "stateOperators": [{"numRowsDroppedByWatermark": dropped}]}


def query(*batches: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(recentProgress=list(batches), lastProgress=batches[-1] if batches else None)


def test_late_rows_count_every_batch_once() -> None:
    late = LateRows()
    assert late.update(query()) == 0  # type: ignore[arg-type]
    assert late.update(query(progress(0, 0), progress(1, 3))) == 3  # type: ignore[arg-type]
    # Batch 1 is in the recent list again, 2 and 3 are new.
    assert late.update(query(progress(1, 3), progress(2, 2), progress(3, 0))) == 5  # type: ignore[arg-type]
    assert late.update(query(progress(3, 0))) == 5  # type: ignore[arg-type]  # idle: nothing new
    assert late.update(query(progress(4, 1))) == 6  # type: ignore[arg-type]  # the next one only
