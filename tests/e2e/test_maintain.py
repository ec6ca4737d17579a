"""Table care: `gamepipe maintain` compacts a table's small files; rows stay the same; the
rollup's partial rows of a day that is over become one per key, and a merge a late
append overlaps writes nothing and is done again at the next; player_sessions is folded
into players, and the queries read each event once, before a fold, after it and with
rows landed since. The
stream's scheduled round (`care_round`: that command in a child process) reports what it did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from gamepipe import query
from gamepipe.config import Settings
from gamepipe.query import Engine, comparable, named
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


def maintain(*tables: str, env: dict[str, str] | None = None) -> str:
    """`gamepipe maintain --json` on these tables, as a user runs it; its report (stdout)."""
    cli = Path(sys.executable).parent / "gamepipe"
    argv = [str(cli), "maintain", *(a for t in tables for a in ("--table", t)), "--json"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_maintain_compacts_small_files_and_keeps_every_row(stack: Settings) -> None:
    session, files_before = small_files(stack)
    rows_before = query.count(stack, "join_guilds")

    maintain("join_guilds")
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


ROLLUP_COLUMNS = (
    "received_day, player_id, session_id, day, event_count, purchase_count, revenue, sword_count, first_at, last_at"
)


def insert_partials(
    settings: Settings, session: str, day: str, partials: list[tuple[int, int, str, int, str, str]]
) -> None:
    """Partial rollup rows of one key on received day `day`, a commit each, as micro-batches
    leave them: (events, purchases, revenue, swords, first and last client time of day)."""
    for events, paid, revenue, swords, first, last in partials:
        values = (f"date '{day}', 'p-{session}', '{session}', date '{day}', {events}, {paid}, {revenue}, {swords}, "
                  f"timestamp '{day} {first} UTC', timestamp '{day} {last} UTC'")  # fmt: skip
        query.run(settings, f"insert into player_sessions ({ROLLUP_COLUMNS}) values ({values})")


def merged_rows(settings: Settings, session: str) -> list[tuple[object, ...]]:
    return query.run(
        settings,
        "select event_count, purchase_count, revenue, sword_count, join_count, to_unixtime(first_at), "
        f"to_unixtime(last_at) from player_sessions where session_id = '{session}'",
    ).rows


def test_maintain_merges_the_rollups_rows_of_a_day_that_is_over(stack: Settings) -> None:
    # Three partial rows of one key on a received day long over; the stream's own rows are
    # today's, not merged yet.
    session, day = f"merge-{uuid.uuid4().hex[:8]}", "2026-01-05"
    partials = [(1, 0, "null", 0, "10:00:00", "10:05:00"), (2, 1, "4.99", 1, "10:01:00", "10:20:00"),
                (3, 2, "1.50", 0, "09:59:00", "10:02:00")]  # fmt: skip
    insert_partials(stack, session, day, partials)
    # and item_days: two partial rows of one key (a run of its own) on that day
    item_key = f"date '{day}', '{session}', date '{day}', 'purchase_sword', 'iron'"
    for events, paid, revenue in ((2, 1, "4.99"), (3, 3, "14.97")):
        query.run(stack, f"insert into item_days values ({item_key}, {events}, {paid}, {revenue})")
    today = query.run(stack, "select count(*) from player_sessions where received_day = current_date").scalar()

    assert set(json.loads(maintain("player_sessions", "item_days"))) == {"player_sessions", "item_days"}
    # Merged by this call, or by a round the stream scheduled meanwhile (the same code, so
    # the call may find nothing left to merge): the key's partial rows are one row now.
    base = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    assert merged_rows(stack, session) == [
        (6, 3, Decimal("6.49"), 1, None, base + 9 * 3600 + 59 * 60, base + 10 * 3600 + 20 * 60)
    ]
    items = f"select event_count, purchase_count, revenue from item_days where run = '{session}'"
    assert query.run(stack, items).rows == [(5, 4, Decimal("19.96"))]
    after = query.run(stack, "select count(*) from player_sessions where received_day = current_date").scalar()
    assert after >= today, "today's rows are the stream's to add to, not merged"


# Run in a process of its own (a Spark session needs the catalog's jars on a fresh JVM):
# plan a merge, append a row to the planned day as a late micro-batch would, commit the
# plan; then merge again. Prints what each step did, as JSON.
LATE_APPEND = """
import json, sys
from datetime import date
from gamepipe import query
from gamepipe.config import load_settings
from gamepipe.errors import RollupConflict
from gamepipe.rollup import PLAYER_SESSIONS
from gamepipe.stream.maintain import CARE_MASTER, commit_merge, merge_rollup, plan_merge
from gamepipe.stream.session import build_session
from tests.e2e.test_maintain import insert_partials

session, day, late = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
settings = load_settings()
name = f"{settings.catalog.name}.{settings.catalog.namespace}.player_sessions"
spark = build_session(settings, "gamepipe-test-merge", master=CARE_MASTER, memory="1g")
plan = plan_merge(spark, name, PLAYER_SESSIONS, date.today())
insert_partials(settings, session, day, [tuple(late)])
try:
    commit_merge(spark, plan)
    refused = None
except RollupConflict as conflict:
    refused = str(conflict)
rows = query.count(settings, "player_sessions", f"session_id = '{session}'")
again = merge_rollup(spark, name, PLAYER_SESSIONS, date.today())
print(json.dumps({"planned": [str(d) for d in plan.days], "refused": refused, "rows": rows,
                  "merged": [str(d) for d in again]}))
"""


def test_a_merge_refused_for_a_late_append_writes_nothing_and_the_next_merges_every_row(stack: Settings) -> None:
    session, day = f"late-{uuid.uuid4().hex[:8]}", "2026-01-06"
    insert_partials(
        stack, session, day, [(1, 0, "null", 0, "10:00:00", "10:05:00"), (2, 1, "4.99", 1, "10:01:00", "10:20:00")]
    )
    late = [4, 1, "2.00", 0, "09:30:00", "10:10:00"]
    result = subprocess.run(
        [sys.executable, "-c", LATE_APPEND, session, day, json.dumps(late)],
        capture_output=True, text=True, timeout=600, check=False, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    steps = json.loads(result.stdout.strip().splitlines()[-1])
    assert day in steps["planned"]
    assert steps["refused"] and day in steps["refused"], steps  # the first commit: refused...
    assert steps["rows"] == 3, steps  # ...and nothing written: the three partial rows as they were
    assert day in steps["merged"]  # the next merge: the day again, with the late row
    base = datetime(2026, 1, 6, tzinfo=UTC).timestamp()
    assert merged_rows(stack, session) == [
        (7, 2, Decimal("6.99"), 1, None, base + 9.5 * 3600, base + 10 * 3600 + 20 * 60)
    ]


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
    env = dict(os.environ, GAMEPIPE_STREAM__KEEP_SNAPSHOTS_MINUTES="0", GAMEPIPE_STREAM__KEEP_LAST_SNAPSHOTS="1")
    maintain("rejected_events", env=env)
    kept = {
        r[0]: r[1] for r in query.run(stack, 'select snapshot_id, committed_at from "rejected_events$snapshots"').rows
    }
    assert stream_snapshot in kept, "the stream's newest snapshot stays"
    assert parent is None or parent in kept, "and the one before it"
    oldest_kept = kept[parent] if parent is not None else kept[stream_snapshot]
    assert min(kept.values()) == oldest_kept, "everything older than those two went"


def post(settings: Settings, events: list[dict[str, object]]) -> None:
    url = f"http://{settings.api.host}:{settings.api.port}/v1/events"
    assert httpx.post(url, json={"events": events}).status_code == 200


def landed(settings: Settings, run: str, events: int) -> None:
    """Until player_sessions counts `events` events of the run."""
    deadline = time.monotonic() + 120
    sql = f"select coalesce(sum(event_count), 0) from player_sessions where session_id like '{run}-%'"
    while int(query.run(settings, sql).scalar()) < events:
        assert time.monotonic() < deadline, f"{events} events of {run} did not land"
        time.sleep(1)


def test_maintain_folds_player_sessions_into_players_and_the_queries_read_each_event_once(stack: Settings) -> None:
    run = f"20261204-{uuid.uuid4().int % 1_000_000:06d}-s1"  # a load run's id, so the queries can pick it
    today = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    first, second = (today - timedelta(days=2)).date(), (today - timedelta(days=1)).date()  # game days, client time
    sword: dict[str, object] = {"event_type": "purchase_sword", "session_id": f"{run}-p1-1", "player_id": f"p1-{run}",
                                "sword_type": "iron", "price": 4.99, "client_ts": f"{first}T10:00:00Z"}  # fmt: skip
    swords = [sword] * 3
    guild: list[dict[str, object]] = [
        {
            "event_type": "join_guild",
            "session_id": f"{run}-p2-1",
            "player_id": f"p2-{run}",
            "guild_name": "Night Owls",
            "client_ts": f"{first}T11:00:00Z",
        }
    ]
    lists = f"select player_id, days, day_revenues, day_swords, day_joins from players where run = '{run}'"
    post(stack, swords + guild)
    landed(stack, run, 4)
    headline = named(stack, "headline", run)
    before = query.run(stack, headline).rows

    through = json.loads(maintain("players"))["players"]["folded_through"]
    # Folded by this call or by a round the stream scheduled meanwhile: the run's rows are in
    # players, a row per player, and all its player_sessions rows are landed by THROUGH.
    held = query.run(stack, f"select player_id, event_count, purchase_count, revenue from players where run = '{run}'")
    assert sorted(held.rows) == [(f"p1-{run}", 3, 3, Decimal("14.97")), (f"p2-{run}", 1, 0, None)]
    newest = query.run(stack, f"select max(landed) from player_sessions where session_id like '{run}-%'").scalar()
    assert newest <= through
    assert before == query.run(stack, headline).rows == [(4, 2, 1, Decimal("14.97"), 3, 1)]
    # and each player's day of play, listed with its revenue, swords and guild joins
    assert sorted(query.run(stack, lists).rows) == [
        (f"p1-{run}", [first], [Decimal("14.97")], [3], [0]),
        (f"p2-{run}", [first], [Decimal("0.00")], [0], [1]),
    ]

    # Two more swords land after the fold, a day later: read beside players, not in it, each once.
    post(stack, [{**sword, "client_ts": f"{second}T09:00:00Z"}] * 2)
    landed(stack, run, 6)
    assert query.run(stack, headline).rows == [(6, 2, 1, Decimal("24.95"), 5, 1)]
    for engine in ("trino", "duckdb"):
        top = Engine(stack, engine).named("top_spenders", run).rows
        assert comparable(top) == comparable([(f"p1-{run}", 5, Decimal("24.95"))]), engine
        # the cohort of the first day: both players on it, p1 the day after too
        assert Engine(stack, engine).named("retention", run).rows == [(first, 0, 2), (first, 1, 1)], engine

    # The next fold merges them into p1's lists: a second day, in order.
    maintain("players")
    assert sorted(query.run(stack, lists).rows)[0] == (
        f"p1-{run}",
        [first, second],
        [Decimal("14.97"), Decimal("9.98")],
        [3, 2],
        [0, 0],
    )


def test_maintain_folds_sessions_and_session_lengths_moves_a_session_grown_since(stack: Settings) -> None:
    run = f"20261204-{uuid.uuid4().int % 1_000_000:06d}-s2"
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    one: dict[str, object] = {"event_type": "join_guild", "session_id": f"{run}-p1-1", "player_id": f"p1-{run}",
                              "guild_name": "Night Owls", "client_ts": f"{day}T10:00:00Z"}  # fmt: skip
    other = {**one, "session_id": f"{run}-p2-1", "player_id": f"p2-{run}"}
    post(stack, [one, {**one, "client_ts": f"{day}T10:00:30Z"}, other])
    landed(stack, run, 3)
    held = (
        "select player_id, session_id, event_count, date_diff('second', first_at, last_at) "
        f"from sessions where run = '{run}'"
    )

    def lengths_on_both_engines(expected: list[tuple[int, int]]) -> None:
        for engine in ("trino", "duckdb"):
            assert Engine(stack, engine).named("session_lengths", run).rows == expected, engine

    maintain("sessions")
    # Folded by this call or by a round the stream scheduled meanwhile: a row per session.
    assert sorted(query.run(stack, held).rows) == [
        (f"p1-{run}", f"{run}-p1-1", 2, 30),
        (f"p2-{run}", f"{run}-p2-1", 1, 0),
    ]
    lengths_on_both_engines([(0, 1), (30, 1)])

    # p1's session goes on after the fold: out of the 30 s bucket, into the 90 s one, on
    # both engines, before the next fold and after it.
    post(stack, [{**one, "client_ts": f"{day}T10:01:30Z"}])
    landed(stack, run, 4)
    lengths_on_both_engines([(0, 1), (90, 1)])
    maintain("sessions")
    assert sorted(query.run(stack, held).rows)[0] == (f"p1-{run}", f"{run}-p1-1", 3, 90)
    lengths_on_both_engines([(0, 1), (90, 1)])


# Run in a process of its own: in a namespace of its own, player_sessions as an older
# gamepipe made it (no landed) with a row; then the stream's DDL at start, twice.
UPGRADE = """
import json, sys
from gamepipe.config import load_settings
from gamepipe.events import load_contract
from gamepipe.rollup import LANDED, PLAYER_SESSIONS
from gamepipe.stream.catalog import create_table, create_tables, table_name
from gamepipe.stream.maintain import CARE_MASTER
from gamepipe.stream.session import build_session

settings = load_settings()
catalog = settings.catalog.model_copy(update={"namespace": sys.argv[1]})
settings = settings.model_copy(update={"catalog": catalog})
name = table_name(settings, "player_sessions")
spark = build_session(settings, "gamepipe-test-upgrade", master=CARE_MASTER, memory="1g")
spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {settings.catalog.name}.`{sys.argv[1]}`")
try:
    older = [(n, k) for n, k in PLAYER_SESSIONS.table_columns() if n != LANDED]
    create_table(spark, name, older, "received_day")
    spark.sql(f"INSERT INTO {name} VALUES (DATE '2026-01-07', 'p-old', 's-old', DATE '2026-01-07', 3, 0, "
              "NULL, 0, 0, NULL, NULL, NULL, NULL, NULL)")
    create_tables(spark, settings, load_contract(settings.schemas_dir))
    first = [tuple(r) for r in spark.sql(f"SELECT event_count, {LANDED} FROM {name}").collect()]
    snapshots = spark.sql(f"SELECT count(*) FROM {name}.snapshots").first()[0]
    create_tables(spark, settings, load_contract(settings.schemas_dir))
    again = spark.sql(f"SELECT count(*) FROM {name}.snapshots").first()[0]
    print(json.dumps({"rows": first, "snapshots": [snapshots, again]}))
finally:
    for table in settings.stream.tables:
        spark.sql(f"DROP TABLE IF EXISTS {table_name(settings, table)} PURGE")
    spark.sql(f"DROP NAMESPACE IF EXISTS {settings.catalog.name}.`{sys.argv[1]}`")
"""


def test_the_rows_of_a_player_sessions_from_before_landed_get_landed_0_once(stack: Settings) -> None:
    namespace = f"upgrade_{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [sys.executable, "-c", UPGRADE, namespace],
        capture_output=True, text=True, timeout=600, check=False, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    steps = json.loads(result.stdout.strip().splitlines()[-1])
    assert steps["rows"] == [[3, 0]], "landed 0, not null: before any fold"
    assert steps["snapshots"][1] == steps["snapshots"][0], "once done, a start writes nothing"
