"""Reading Apache Bench's summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamepipe.errors import LoadError
from gamepipe.load import SEED_PLAN, parse_ab
from gamepipe.load.ab import ab_argv, parse_once

DATA = Path(__file__).parent / "data"


def test_all_2xx() -> None:
    stats = parse_ab((DATA / "ab_ok.txt").read_text())
    assert (stats.complete, stats.failed, stats.non_2xx, stats.ok) == (10, 0, 0, 10)
    assert stats.requests_per_s > 0
    assert 50 in stats.percentiles_ms and 100 in stats.percentiles_ms


def test_non_2xx_are_not_ok() -> None:
    stats = parse_ab((DATA / "ab_422.txt").read_text())
    assert (stats.complete, stats.non_2xx, stats.ok) == (6, 6, 0)


def test_length_failures_still_got_an_answer() -> None:
    text = (
        (DATA / "ab_ok.txt")
        .read_text()
        .replace(
            "Failed requests:        0\n",
            "Failed requests:        5\n   (Connect: 0, Receive: 0, Length: 3, Exceptions: 2)\n",
        )
    )
    stats = parse_ab(text)
    # 2 exceptions got no answer; 3 length "failures" were answered 2xx.
    assert stats.ok == 8


def test_missing_summary_is_an_error() -> None:
    with pytest.raises(LoadError, match="Complete requests"):
        parse_ab("apr_socket_connect(): Connection refused (111)")


def test_seed_plan_is_generate_data_sh() -> None:
    assert len(SEED_PLAN) == 6
    assert sum(1 for _, route in SEED_PLAN if route == "/join_guild") == 2
    assert {host for host, _ in SEED_PLAN} == {"user1.comcast.com", "user2.att.com"}


def test_mean_time_per_request_is_read() -> None:
    stats = parse_ab((DATA / "ab_ok.txt").read_text())
    assert stats.mean_ms is not None and stats.mean_ms > 0


def test_one_request_is_read_with_its_exact_status() -> None:
    answer = parse_once((DATA / "ab_v2_422.txt").read_text())
    assert answer.status == 422 and answer.latency_ms is not None


def test_no_answer_at_all_has_no_status() -> None:
    refused = "Benchmarking 127.0.0.1 (be patient)...apr_socket_recv: Connection refused (111)\n"
    assert parse_once(refused).status is None


def test_a_time_limit_does_not_cap_the_requests_asked_for() -> None:
    # ab's -t sets the request count to 50,000; given first, the -n after it wins.
    argv = ab_argv("http://127.0.0.1:5000/", 80_000, 4, seconds=30)
    assert argv.index("-t") < argv.index("-n") and argv[argv.index("-n") + 1] == "80000"
    post = ab_argv("http://h/v1/events", 1, body="b.json", headers={"Host": "x"}, verbose=True)
    assert post[-1] == "http://h/v1/events" and post[-5:-1] == ["-p", "b.json", "-T", "application/json"]
