"""The stream's dedup without Spark: copies within and across micro-batches, rejected
records, late rows, the window's expiry, and the window a restarted job starts from."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from gamepipe.storage import LocalDirectory
from gamepipe.stream.dedup import INDEX, Dedup, Keys, Window, member

SECOND = 1_000_000  # event times are in microseconds


def records(*rows: tuple[int | None, int, int, int]) -> pa.Table:
    """Kafka records as the stream's key columns: (id, event time in s, partition,
    offset); id None is a rejected record. The key's two halves come from the id."""
    ids = [r[0] for r in rows]
    return pa.table(
        {
            "kind": pa.array([None if i is None else "purchase_sword" for i in ids], pa.string()),
            "hi": pa.array(ids, pa.int64()),
            "lo": pa.array([None if i is None else -i for i in ids], pa.int64()),
            "at": pa.array([None if r[0] is None else r[1] * SECOND for r in rows], pa.int64()),
            "partition": pa.array([r[2] for r in rows], pa.int32()),
            "offset": pa.array([r[3] for r in rows], pa.int64()),
        }
    )


def run(dedup: Dedup, batch_id: int, table: pa.Table) -> list[bool]:
    """One micro-batch through dedup, as the stream does it: check, then remember."""
    verdict = dedup.check(table)
    dedup.remember(batch_id, verdict)
    copies: list[bool] = verdict.copy.tolist()
    return copies


def test_the_first_copy_in_kafka_order_is_kept_within_a_batch(tmp_path: Path) -> None:
    dedup = Dedup(LocalDirectory(tmp_path), window_s=60)
    dedup.start(0)
    # Row order is not Kafka order: id 7 at partition 0 offset 3 comes first in Kafka.
    copies = run(dedup, 0, records((7, 100, 1, 5), (7, 100, 0, 3), (8, 100, 0, 4), (7, 101, 0, 9)))
    assert copies == [True, False, False, True]


def test_an_id_seen_in_an_earlier_batch_is_a_copy_until_it_leaves_the_window(tmp_path: Path) -> None:
    dedup = Dedup(LocalDirectory(tmp_path), window_s=60)
    dedup.start(0)
    assert run(dedup, 0, records((1, 100, 0, 0), (2, 100, 0, 1))) == [False, False]
    assert run(dedup, 1, records((1, 130, 0, 2), (3, 130, 0, 3))) == [True, False]
    assert dedup.copies_dropped == 1 and len(dedup.window) == 3


def test_rejected_records_are_never_copies(tmp_path: Path) -> None:
    dedup = Dedup(LocalDirectory(tmp_path), window_s=60)
    dedup.start(0)
    assert run(dedup, 0, records((None, 0, 0, 0), (None, 0, 0, 1), (4, 100, 0, 2))) == [False, False, False]
    assert len(dedup.window) == 1


def test_rows_older_than_the_window_are_kept_and_counted_late(tmp_path: Path) -> None:
    dedup = Dedup(LocalDirectory(tmp_path), window_s=60)
    dedup.start(0)
    run(dedup, 0, records((1, 1000, 0, 0)))
    # 2 is 100 s older than the newest event seen: late, kept; 3 is within the window.
    assert run(dedup, 1, records((2, 900, 1, 0), (3, 990, 1, 1))) == [False, False]
    assert dedup.late_rows == 1


def test_an_event_time_ahead_of_the_clock_does_not_expire_the_window(tmp_path: Path) -> None:
    now_s = time.time_ns() // 1000 // SECOND
    dedup = Dedup(LocalDirectory(tmp_path), window_s=600)
    dedup.start(0)
    run(dedup, 0, records((1, now_s, 0, 0)))
    run(dedup, 1, records((2, now_s + 10 * 365 * 86400, 0, 1)))  # a received_at ten years ahead
    assert run(dedup, 2, records((1, now_s + 1, 0, 2))) == [True], "1 is still held"
    assert dedup.late_rows == 0
    restarted = Dedup(LocalDirectory(tmp_path), window_s=600)
    restarted.start(3)
    assert run(restarted, 3, records((1, now_s + 2, 0, 3))) == [True], "and still after a restart"


def test_expired_ids_leave_the_window_when_it_merges() -> None:
    window = Window(60 * SECOND, min_merge=2)
    for t, ids in ((0, [1, 2]), (30, [3, 4]), (200, [5, 6])):  # each add reaches min_merge: a merge
        window.add(Keys(np.array(ids), -np.array(ids), np.full(len(ids), t * SECOND)))
    held = np.array([1, 2, 3, 4, 5, 6])
    assert window.contains(held, -held).tolist() == [False, False, False, False, True, True]


def test_keys_that_share_their_first_half_are_told_apart() -> None:
    keys = Keys(np.array([5, 5, 9]), np.array([1, 2, 3]), np.zeros(3, np.int64))
    found = member(keys, np.array([5, 5, 5, 9, 7]), np.array([2, 1, 3, 3, 1]))
    assert found.tolist() == [True, True, False, True, False]


def test_a_restarted_job_checks_the_rerun_batch_against_the_same_window(tmp_path: Path) -> None:
    before = Dedup(LocalDirectory(tmp_path), window_s=60)
    before.start(0)
    run(before, 0, records((1, 100, 0, 0), (2, 100, 0, 1)))
    batch_1 = records((2, 110, 0, 2), (3, 110, 0, 3), (3, 110, 0, 4))
    crashed_with = run(before, 1, batch_1)  # ... and the job dies before Spark marks batch 1 done
    assert (tmp_path / "1.npz").exists()

    after = Dedup(LocalDirectory(tmp_path), window_s=60)
    after.start(1)  # Spark runs batch 1 again
    assert not (tmp_path / "1.npz").exists(), "the crashed run's file of batch 1 is gone"
    assert len(after.window) == 2
    assert run(after, 1, batch_1) == crashed_with == [True, False, True]
    assert run(after, 2, records((3, 120, 0, 5))) == [True]


def test_a_file_leaves_once_every_id_in_it_has_expired(tmp_path: Path) -> None:
    dedup = Dedup(LocalDirectory(tmp_path), window_s=60)
    dedup.start(0)
    run(dedup, 0, records((1, 100, 0, 0)))
    run(dedup, 1, records((2, 150, 0, 1)))
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["0.npz", "1.npz"]
    run(dedup, 2, records((3, 200, 0, 2)))  # 100 s is now older than 200 - 60
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["1.npz", "2.npz"]
    assert sorted(json.loads((tmp_path / INDEX).read_text())["files"]) == ["1", "2"], "the index follows"


def test_a_damaged_or_missing_file_is_named_at_start_and_the_window_rebuilt(tmp_path: Path) -> None:
    dedup = Dedup(LocalDirectory(tmp_path), window_s=600)
    dedup.start(0)
    now = int(time.time())
    for batch in range(3):
        run(dedup, batch, records((batch + 1, now, 0, batch)))
    (tmp_path / "1.npz").write_bytes(b"garbage")  # damaged
    (tmp_path / "2.npz").unlink()  # missing
    again = Dedup(LocalDirectory(tmp_path), window_s=600)
    trouble = again.start(3)
    assert any("1.npz is damaged" in t for t in trouble) and any("2.npz is listed" in t for t in trouble)
    # The job rebuilds from the tables' ids (here: the three the batches kept).
    again.rebuild(3, Keys(*(np.array(x, np.int64) for x in ([1, 2, 3], [-1, -2, -3], [now * SECOND] * 3))))
    assert run(again, 3, records((2, now, 0, 3), (4, now, 0, 4))) == [True, False], "2 is still a copy"
    third = Dedup(LocalDirectory(tmp_path), window_s=600)
    assert third.start(4) == [], "the rebuilt window was saved: the next start needs no rebuild"
    assert run(third, 4, records((3, now, 0, 5), (4, now, 0, 6))) == [True, True]


def test_no_window_files_at_all_after_batches_ran_is_trouble_but_a_first_start_is_not(tmp_path: Path) -> None:
    assert Dedup(LocalDirectory(tmp_path / "new"), window_s=60).start(0) == []
    [trouble] = Dedup(LocalDirectory(tmp_path / "gone"), window_s=60).start(7)
    assert "missing, after 7 micro-batches" in trouble


def test_a_checkpoint_from_spark_dedup_has_its_state_set_aside(tmp_path: Path) -> None:
    from gamepipe.stream.job import SPARK_STATE_SET_ASIDE, set_aside_spark_dedup_state

    (tmp_path / "state" / "0").mkdir(parents=True)
    (tmp_path / "offsets").mkdir()
    set_aside_spark_dedup_state(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["offsets", SPARK_STATE_SET_ASIDE]
    set_aside_spark_dedup_state(tmp_path)  # a second start finds nothing to move
    assert (tmp_path / SPARK_STATE_SET_ASIDE / "0").is_dir()


def test_a_write_a_crash_cut_short_is_cleared_at_start(tmp_path: Path) -> None:
    dedup = Dedup(LocalDirectory(tmp_path), window_s=60)
    dedup.start(0)
    run(dedup, 0, records((1, 100, 0, 0)))
    (tmp_path / "1.npz.tmp").write_bytes(b"half a file")
    assert Dedup(LocalDirectory(tmp_path), window_s=60).start(1) == []
    assert not (tmp_path / "1.npz.tmp").exists()
