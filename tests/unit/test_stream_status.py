"""The stream's status bookkeeping, without Spark: late rows summed over batches."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from gamepipe.stream.job import LateRows


def progress(batch: int, dropped: int) -> dict[str, Any]:
    return {"batchId": batch, "stateOperators": [{"numRowsDroppedByWatermark": dropped}]}


def test_late_rows_count_every_batch_once() -> None:
    late = LateRows()
    query = SimpleNamespace(recentProgress=[progress(0, 0), progress(1, 3)])
    assert late.update(query) == 3  # type: ignore[arg-type]
    query.recentProgress = [progress(1, 3), progress(2, 2), progress(3, 0)]  # batch 1 is seen again
    assert late.update(query) == 5  # type: ignore[arg-type]
    assert late.update(query) == 5  # type: ignore[arg-type]
