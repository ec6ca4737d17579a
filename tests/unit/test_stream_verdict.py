"""`gamepipe status`'s verdict on the stream (stream/monitor.py `verdict`): stalled when
records wait and no commit came for `stalled_after_s`; warned near Kafka's retention."""

from __future__ import annotations

from typing import Any

from gamepipe.stream.monitor import verdict

WEEK = 7 * 24 * 3600.0


def judge(**given: Any) -> Any:
    base = {"lag": 0, "newest_commit_age_s": 5.0, "running_s": 600.0, "status_age_s": 1.0,
            "oldest_waiting_age_s": None, "stalled_after_s": 120.0, "retention_s": WEEK}  # fmt: skip
    return verdict(**{**base, **given})


def test_no_lag_is_keeping_up() -> None:
    assert judge().state == "keeping up"
    assert judge(newest_commit_age_s=3600.0).state == "keeping up", "no traffic is not a stall"


def test_lag_with_recent_commits_is_behind_not_stalled() -> None:
    assert judge(lag=50_000, newest_commit_age_s=60.0).state == "behind"


def test_lag_and_no_commit_for_the_bound_is_stalled() -> None:
    judged = judge(lag=1_234, newest_commit_age_s=121.0)
    assert judged.state == "stalled" and "1,234 records" in judged.warnings[0]
    assert judge(lag=10, newest_commit_age_s=None, running_s=130.0).state == "stalled", "no commit since it started"
    assert judge(lag=10, newest_commit_age_s=None, running_s=30.0).state == "behind", "just started"


def test_a_silent_job_is_not_reporting() -> None:
    assert judge(status_age_s=45.0).state == "not reporting"


def test_the_oldest_waiting_record_near_retention_is_warned() -> None:
    assert judge(lag=5, oldest_waiting_age_s=0.79 * WEEK).warnings == ()
    [warning] = judge(lag=5, oldest_waiting_age_s=0.81 * WEEK).warnings
    assert "136.1 h old" in warning and "after 168 h" in warning
