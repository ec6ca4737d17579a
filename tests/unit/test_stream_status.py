"""The stream's status bookkeeping, without Spark: late rows summed over batches."""

from __future__ import annotations

from typing import Any

from gamepipe.stream.job import LateRows


def progress(batch: int, dropped: int) -> dict[str, Any]:
    return {"batchId": batch, "stateOperators": [{"numRowsDroppedByWatermark": dropped}]}


def look(late: LateRows, *batches: dict[str, Any]) -> int:
    """`late.update` with `batches` as the query's recent progress reports."""
    return late.update(batches[-1] if batches else None, lambda: list(batches))


def test_late_rows_count_every_batch_once() -> None:
    late = LateRows()
    assert look(late) == 0
    assert look(late, progress(0, 0), progress(1, 3)) == 3
    # Batch 1 is in the recent list again, 2 and 3 are new.
    assert look(late, progress(1, 3), progress(2, 2), progress(3, 0)) == 5
    assert look(late, progress(3, 0)) == 5  # idle: nothing new
    assert look(late, progress(4, 1)) == 6  # the next one only
