"""The stream's table-care schedule, without Spark: rounds on their own thread, one at
a time, a failed round reported and retried, never raised into the stream."""

from __future__ import annotations

import threading
import time

from gamepipe.stream.maintain import CareReport, TableCare
from gamepipe.stream.status import TableCareReport

REPORT = {
    "events": TableCareReport(
        files_rewritten=3,
        files_added=1,
        files_failed=0,
        snapshots_kept_since="2026-12-01",
        snapshots_expired_data_files=0,
        orphan_files_removed=0,
    )
}


def test_a_round_runs_beside_the_caller_and_never_twice_at_once() -> None:
    release = threading.Event()
    rounds: list[int] = []

    def work() -> CareReport:
        rounds.append(1)
        release.wait(10)
        return REPORT

    care = TableCare(work, every_s=0.001)
    time.sleep(0.01)  # the first round is due
    assert care.tick()  # returned while the round is still working
    assert care.running and not care.tick()  # due again, but one is running
    release.set()
    care.wait(10)
    assert not care.running and len(rounds) == 1
    assert care.last.report == REPORT and care.last.seconds is not None and care.last.seconds >= 0
    assert not care.status().running


def test_a_failed_round_is_reported_and_the_next_one_runs() -> None:
    calls: list[int] = []

    def work() -> CareReport:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("CommitFailedException: table changed")
        return {}

    care = TableCare(work, every_s=0.001)
    time.sleep(0.01)
    assert care.tick()
    care.wait(10)
    assert "CommitFailedException" in str(care.last.error) and care.last.report is None
    time.sleep(0.01)
    assert care.tick()
    care.wait(10)
    assert care.last.report == {} and care.last.error is None
    assert len(calls) == 2


def test_not_due_before_its_time_and_never_when_off() -> None:
    assert not TableCare(dict, every_s=3600).tick()
    assert not TableCare(dict, every_s=0).tick()
