"""Table care: `gamepipe maintain` compacts a table's small files; rows stay the same; the
rollup's partial rows of a day that is over become one per key. The
stream's scheduled round (`care_round`: that command in a child process) reports what it did."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.stream.maintain import care_round

pytestmark = pytest.mark.stack


def files(settings: Settings, table: str) -> int:
    return int(query.run(settings, f'select count(*) from "{table}$files"').scalar())


def small_files(settings: Settings) -> tuple[str, int]:
    """Eight posts of 5 join_guild events a few triggers apart, landed: (session, files of the table)."""
    session = f"care-{uuid.uuid4().hex[:8]}"
    url = f"http://{settings.api.host}:{settings.api.port}/v1/events"
    for _ in range(8):  # eight posts a few triggers apart: several small files
        events = [{"event_type": "join_guild", "session_id": session, "guild_name": "Night Owls"}] * 5
        assert httpx.post(url, json={"events": events}).status_code == 200
        time.sleep(settings.stream.trigger_seconds * 3)
    deadline = time.monotonic() + 120
    while query.count(settings, f"join_guilds where session_id = '{session}'") < 40:
        assert time.monotonic() < deadline
        time.sleep(2)
    before = files(settings, "join_guilds")
    assert before >= 5  # the compaction threshold (min-input-files)
    return session, before


def test_maintain_compacts_small_files_and_keeps_every_row(stack: Settings) -> None:
    session, files_before = small_files(stack)
    rows_before = query.count(stack, "join_guilds")

    cli = Path(sys.executable).parent / "gamepipe"
    result = subprocess.run(
        [str(cli), "maintain", "--table", "join_guilds"], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert files(stack, "join_guilds") < files_before
    assert query.count(stack, "join_guilds") >= rows_before  # the stream may have added more, never fewer
    assert query.count(stack, f"join_guilds where session_id = '{session}'") == 40


def test_the_streams_scheduled_round_runs_maintain_in_a_child_and_reports_it(stack: Settings) -> None:
    session, files_before = small_files(stack)
    report = care_round(stack)
    assert set(report) == set(stack.stream.tables)
    assert report["join_guilds"].files_rewritten >= 5
    assert files(stack, "join_guilds") < files_before
    assert query.count(stack, f"join_guilds where session_id = '{session}'") == 40


def test_maintain_merges_the_rollups_rows_of_a_day_that_is_over(stack: Settings) -> None:
    # Three partial rows of one key on a received day long over, each its own commit, as
    # three micro-batches leave them; the stream's own rows are today's, not merged yet.
    session, day = f"merge-{uuid.uuid4().hex[:8]}", "2026-01-05"
    columns = (
        "received_day, player_id, session_id, day, event_count, purchase_count, revenue, sword_count, first_at, last_at"
    )
    partials = [(1, 0, "null", 0, "10:00:00", "10:05:00"), (2, 1, "4.99", 1, "10:01:00", "10:20:00"),
                (3, 2, "1.50", 0, "09:59:00", "10:02:00")]  # fmt: skip
    for events, paid, revenue, swords, first, last in partials:
        values = (f"date '{day}', 'p-{session}', '{session}', date '{day}', {events}, {paid}, {revenue}, {swords}, "
                  f"timestamp '{day} {first} UTC', timestamp '{day} {last} UTC'")  # fmt: skip
        query.run(stack, f"insert into player_sessions ({columns}) values ({values})")
    today = query.run(stack, "select count(*) from player_sessions where received_day = current_date").scalar()

    cli = Path(sys.executable).parent / "gamepipe"
    result = subprocess.run(
        [str(cli), "maintain", "--table", "player_sessions", "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert '"rollup_days_merged":' in result.stdout and '"rollup_days_merged":0' not in result.stdout
    rows = query.run(
        stack,
        "select event_count, purchase_count, revenue, sword_count, join_count, to_unixtime(first_at), "
        f"to_unixtime(last_at) from player_sessions where session_id = '{session}'",
    ).rows
    base = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    assert rows == [(6, 3, Decimal("6.49"), 1, None, base + 9 * 3600 + 59 * 60, base + 10 * 3600 + 20 * 60)]
    after = query.run(stack, "select count(*) from player_sessions where received_day = current_date").scalar()
    assert after >= today, "today's rows are the stream's to add to, not merged"


def test_expiry_never_takes_the_streams_newest_snapshot_or_the_one_before_it(stack: Settings) -> None:
    # rejected_events: a table the stream writes rarely, so others' snapshots pile up after its own.
    tag = uuid.uuid4().hex
    producer = Producer({"bootstrap.servers": stack.kafka.bootstrap})
    producer.produce(stack.kafka.topic, f"not json {tag}".encode())
    assert producer.flush(10) == 0
    deadline = time.monotonic() + 120
    while query.count(stack, f"rejected_events where raw_event like '%{tag}'") < 1:
        assert time.monotonic() < deadline, "the dead letter landed"
        time.sleep(1)
    marked = "element_at(summary, 'gamepipe.batch-id') is not null"
    [(stream_snapshot, parent)] = query.run(
        stack,
        f'select snapshot_id, parent_id from "rejected_events$snapshots" where {marked} '
        "order by committed_at desc limit 1",
    ).rows
    for i in range(3):  # newer snapshots that are not the stream's
        query.run(stack, f"insert into rejected_events (reason, raw_event) values ('a test', 'test {i} {tag}')")
    query.run(stack, f"delete from rejected_events where raw_event like '%{tag}'")
    cli = Path(sys.executable).parent / "gamepipe"
    env = dict(os.environ, GAMEPIPE_STREAM__KEEP_SNAPSHOTS_MINUTES="0", GAMEPIPE_STREAM__KEEP_LAST_SNAPSHOTS="1")
    result = subprocess.run(
        [str(cli), "maintain", "--table", "rejected_events"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    kept = {
        r[0]: r[1] for r in query.run(stack, 'select snapshot_id, committed_at from "rejected_events$snapshots"').rows
    }
    assert stream_snapshot in kept, "the stream's newest snapshot stays"
    assert parent is None or parent in kept, "and the one before it"
    oldest_kept = kept[parent] if parent is not None else kept[stream_snapshot]
    assert min(kept.values()) == oldest_kept, "everything older than those two went"
