"""`gamepipe replay` on the real stack: tables rebuilt from Kafka equal the stream's."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gamepipe import query
from gamepipe.config import Settings
from tests.e2e.test_stream_guarantees import post, session_counts
from tests.stack_helpers import wait_for

pytestmark = pytest.mark.stack

TABLES = ("sword_purchases", "join_guilds", "events")


def gamepipe(*args: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "gamepipe"
    return subprocess.run([str(cli), *args], capture_output=True, text=True, check=False)


def differences(settings: Settings, table: str, other: str, session: str) -> int:
    """Rows of the session in one table and not in the other, both ways."""
    sql = f"""select count(*) from (
  (select * from {table} where session_id = '{session}' except select * from {other} where session_id = '{session}')
  union all
  (select * from {other} where session_id = '{session}' except select * from {table} where session_id = '{session}')
)"""
    return int(query.run(settings, sql).scalar())


def test_replay_rebuilds_tables_equal_to_the_streams(stack: Settings) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat(timespec="seconds")
    session = f"replay-{uuid.uuid4().hex[:8]}"
    retried_id = str(uuid.uuid4())
    retried: dict[str, object] = {
        "event_type": "purchase_sword",
        "event_id": retried_id,
        "session_id": session,
        "price": 3,
    }
    swords: list[dict[str, object]] = [
        {"event_type": "purchase_sword", "session_id": session, "price": 1.25 * i, "sword_type": "katana"}
        for i in range(30)
    ]
    guilds: list[dict[str, object]] = [
        {"event_type": "join_guild", "session_id": session, "guild_name": f"g{i % 3}"} for i in range(20)
    ]
    events = swords + guilds
    for _ in range(3):  # a client retrying: one row in the stream's tables, one in the replay's
        assert post(stack, [retried]).status_code == 200
    assert post(stack, events).status_code == 200
    # Landed, so in Kafka: `--to latest` is past them.
    wait_for(lambda: len(session_counts(stack, "events", session)) == 51, what="the stream to land the events")

    suffix = f"_replay_{uuid.uuid4().hex[:6]}"
    done = gamepipe("replay", *TABLES, "--from", since, "--suffix", suffix)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"events{suffix}: " in done.stdout and "replay done" in done.stdout, done.stdout
    try:
        for table in TABLES:
            copy = table + suffix
            assert session_counts(stack, copy, session) == session_counts(stack, table, session), table
            assert differences(stack, table, copy, session) == 0, f"{copy} differs from {table}"
        assert session_counts(stack, "sword_purchases" + suffix, session)[retried_id] == 1

        again = gamepipe("replay", "events", "--from", since, "--suffix", suffix)
        assert again.returncode == 1 and "--replace" in again.stderr, again.stderr
    finally:
        for table in TABLES:
            query.run(stack, f"drop table if exists {table}{suffix}")


def test_replay_refuses_bad_positions_and_tables(stack: Settings) -> None:
    for args, says in (
        (["events", "--from", "yesterday"], "is not earliest, a time"),
        (["events", "--from", "2026-11-28T10:00:00"], "has no time zone"),
        (["events", "--to", "{not json"], "are not JSON"),
        (["castles"], "unknown table(s) ['castles']"),
    ):
        done = gamepipe("replay", *args)
        assert done.returncode == 1 and says in done.stderr, (args, done.stderr)
        assert "replaying" not in done.stdout, "refused before reading anything"
