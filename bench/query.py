"""Query speed: every report query on 1e5, 1e6, 1e7 and 1e8 events (`--sizes` to choose),
Trino (warm) vs DuckDB.

The events are written as Iceberg through Spark, straight into tables of their own
(namespace `bench_<n>`, the stream's DDL), shaped like the game's: a skewed population
whose players install over 14 game days and come back less as days pass, sessions, the
seed's hosts, swords with their prices, guilds, potions, shields. Kept between runs
(regenerated only when missing, of another size or of an older shape). Each query runs
once untimed, all of them before any is timed (a pass that warms Trino's caches and
JIT, and makes DuckDB's views over the files), then each `repeat` times; the figure is
each query's median, and the slowest median of the queries the report runs.
Each query's rows from the two engines are compared too (`same_rows`).

Table care is the stack's, on its schedule, over the stack's own tables: a round takes a
core for a minute or more, and the engines' figures beside one were up to 3x slower. So
each query waits for a running round to end (up to CARE_WAIT_S) before it is timed, and
records whether a round was running before or after its timing (`table_care`): the
figures are the engines', and the doc says how many a round still overlapped.
"""

from __future__ import annotations

import statistics
import time
from datetime import date
from typing import Any

from bench.common import care_running, save
from gamepipe.config import Settings
from gamepipe.errors import QueryError
from gamepipe.query import Engine, comparable, named
from gamepipe.stats import summary
from gamepipe.tables import stream_tables

# The queries the report runs (notebooks/report.ipynb) that read the event tables; then the
# others in queries/ that read them, measured too but not part of the verdict.
REPORT = ("headline", "days", "retention", "funnel", "session_lengths", "first_purchase", "guild_retention",
          "sword_rates", "revenue_by_day", "swords_by_type", "guild_joins", "guild_members_vs_others",
          "top_spenders", "seed_join_guilds_by_host")  # fmt: skip
OTHERS = ("events_by_type", "revenue_by_item", "players_by_isp", "activity_by_minute")
QUERIES = REPORT + OTHERS
DAYS = {"change_day": date(2026, 11, 20)}  # sword_rates: the middle day as the price change's
SIZES = (100_000, 1_000_000, 10_000_000, 100_000_000)
PLAYERS_PER_EVENT = 0.01  # 1e7 events: 100,000 players
GAME_DAYS = 14
# The generator's version (6: sessions folded too), kept in the snapshot: data of an
# older shape is rewritten.
SHAPE = "game-days-6"
# The writer's heap: with the stream's 1 GB, writing 1e8 events ran out of heap in the
# Parquet writer of the first table (two tasks of ~15 M rows each).
WRITER_MEMORY = "4g"


def namespace_settings(settings: Settings, namespace: str) -> Settings:
    catalog = settings.catalog.model_copy(update={"namespace": namespace})
    trino = settings.trino.model_copy(update={"schema_": namespace})
    return settings.model_copy(update={"catalog": catalog, "trino": trino})


def existing(settings: Settings) -> tuple[int, str] | None:
    """(rows, shape) of the namespace's events table; None when there is none."""
    trino = Engine(settings, "trino")
    try:
        rows = int(trino.run("select count(*) from events").scalar())
        shape = trino.run(
            "select element_at(summary, 'gamepipe.bench-shape') from \"events$snapshots\" "
            "order by committed_at desc limit 1"
        )
    except QueryError:
        return None
    return rows, str(shape.scalar()) if shape.rows else ""  # no snapshot: created, never written


def generate(settings: Settings, events: int) -> None:
    """Write `events` rows into the namespace's events, sword_purchases and join_guilds,
    their rollups into player_sessions and item_days, and player_sessions folded into
    players (as table care would)."""
    from gamepipe.events import load_contract
    from gamepipe.stream.catalog import create_tables, table_name
    from gamepipe.stream.session import build_session

    spark = build_session(settings, app_name="gamepipe-bench-data", memory=WRITER_MEMORY)
    try:
        contract = load_contract(settings.schemas_dir)
        ns = f"{settings.catalog.name}.`{settings.catalog.namespace}`"
        for table in settings.stream.tables:
            spark.sql(f"DROP TABLE IF EXISTS {ns}.{table} PURGE")
        create_tables(spark, settings, contract)
        players = max(10, int(events * PLAYERS_PER_EVENT))
        spark.range(events).createOrReplaceTempView("ids")
        # Player k is drawn with weight ~ 1/(k+1); installs on a day of 14 by a hash of the
        # player; an event falls on a day from then to the last, early days likelier
        # (retention decays); in one of the player's three sessions of that day, which
        # starts at an hour by a hash and lasts up to 20 minutes. Game time: the last day
        # ends at 2026-11-27 00:00 UTC.
        spark.sql(f"""
create or replace temp view generated as
with e as (
  select id,
    cast(floor(pow({players}, rand(7))) - 1 as bigint) as p,
    rand(11) as r, rand(13) as q, rand(17) as u, cast(floor(rand(19) * 3) as int) as k, rand(23) as m
  from ids
), d as (
  select *, cast(pmod(xxhash64(p), {GAME_DAYS}) as int) as install from e
), s as (
  select *, install + cast(floor(u * u * ({GAME_DAYS} - install)) as int) as day from d
)
select
  case when r < 0.30 then 'purchase_sword' when r < 0.40 then 'join_guild' when r < 0.55 then 'purchase_potion'
       when r < 0.60 then 'purchase_shield' else 'default' end as event_type,
  concat('p', p) as player_id, q, id,
  concat('bench-', p, '-', day, '-', k) as session_id,
  timestamp '2026-11-13 00:00:00' + make_interval(0, 0, 0, day, 0, 0,
    pmod(xxhash64(p, day, k), 84000) + m * 1200) as at,
  element_at(array('comcast.com', 'att.com', 'verizon.net', 'spectrum.net', 'cox.net', 'vodafone.de'),
             cast(p % 6 as int) + 1) as isp
from s""")
        spark.sql("""
create or replace temp view rows as
select
  to_json(named_struct('event_type', event_type, 'player_id', player_id, 'id', id)) as raw_event,
  at as timestamp, '*/*' as accept, concat('user', cast(id % 50 as string), '.', isp) as host,
  'ApacheBench/2.3' as user_agent, event_type, uuid() as event_id, cast(1 as bigint) as schema_version,
  at as received_at, at as client_ts, player_id, session_id,
  sha2(player_id, 256) as client_ip_hash, true as is_synthetic,
  case when event_type = 'join_guild' then concat('g', cast(cast(q * 12 as int) as string)) end as guild_id,
  case when event_type = 'join_guild' then element_at(array('Knights of Zion', 'Dragon Riders', 'Shadow Guild',
    'Iron Wolves', 'Moon Circle', 'Storm Crows', 'Ember Hand', 'Frost Giants', 'Silver Order', 'Wandering Bards',
    'Night Owls', 'Deep Delvers'), cast(q * 12 as int) + 1) end as guild_name,
  case when event_type = 'purchase_potion' then element_at(array('health', 'mana', 'strength'),
    cast(q * 3 as int) + 1) end as potion_type,
  cast(case when event_type = 'purchase_sword' then element_at(array(0.99, 2.99, 4.99, 19.99, 49.99),
              cast(q * 5 as int) + 1)
            when event_type = 'purchase_potion' then 0.49
            when event_type = 'purchase_shield' then 3.99 end as decimal(12, 2)) as price,
  case when event_type like 'purchase_%' then 'USD' end as currency,
  case when event_type = 'purchase_shield' then 'kite' end as shield_type,
  case when event_type = 'purchase_sword' then element_at(array('wooden', 'iron', 'steel', 'mithril',
    'dragonglass'), cast(q * 5 as int) + 1) end as sword_type
from generated""")
        columns = [n for n, _ in contract.table_columns(None)]
        for event_type, table in settings.stream.routes.items():
            cols = ", ".join(n for n, _ in contract.table_columns(event_type))
            target = table_name(settings, table)
            spark.sql(f"insert into {target} select {cols} from rows where event_type = '{event_type}'")
        for rolled in stream_tables(settings.stream):  # as table care leaves them: one row per key, folded
            target = table_name(settings, rolled.name)
            if rolled.rollup is not None:
                spark.sql(rolled.rollup.grouping_sql("rows")).writeTo(target).append()
            elif rolled.lifetime is not None:  # every rollup row folded in (landed 0, the generator's)
                spark.table(table_name(settings, str(rolled.folds))).createOrReplaceTempView("rolled")
                spark.sql(rolled.lifetime.folding_sql(None, "rolled", 0)).writeTo(target).append()
            else:
                continue
            counted = spark.sql(f"select sum(event_count) from {target}").first()
            if counted is None or counted[0] != events:
                raise RuntimeError(f"{rolled.name} counts {counted} events, not the {events:,} written")
        # The events table last: its snapshot names the shape, so data cut short is rewritten.
        (
            spark.table("rows")
            .select(*columns)
            .writeTo(table_name(settings, "events"))
            .option("snapshot-property.gamepipe.bench-shape", SHAPE)
            .append()
        )
    finally:
        spark.stop()


# Rounds over the dev stack's own tables (~80 M events) took 43-510 s on 2026-12-03 (the
# stream log: each round ends its length plus 5 min after the one before).
CARE_WAIT_S = 600.0


def care_ended(settings: Settings) -> bool:
    """Wait for a running round of table care to end (up to CARE_WAIT_S); whether it did."""
    deadline = time.monotonic() + CARE_WAIT_S
    while care_running(settings):
        if time.monotonic() > deadline:
            return False
        time.sleep(1.0)
    return True


def timed(engine: Engine, sql: str) -> tuple[float, list[tuple[Any, ...]]]:
    """(seconds, rows) of one run."""
    began = time.perf_counter()
    rows = engine.run(sql).rows
    return time.perf_counter() - began, rows


def run(settings: Settings, sizes: tuple[int, ...] = SIZES, repeat: int = 5) -> None:
    results: dict[str, Any] = {}
    for events in sizes:
        ns = namespace_settings(settings, f"bench_{events}")
        if existing(ns) != (events, SHAPE):
            began = time.monotonic()
            print(f"bench query: writing {events:,} events as Iceberg through Spark", flush=True)
            generate(ns, events)
            print(f"bench query: written in {time.monotonic() - began:.0f} s", flush=True)
        per_engine: dict[str, Any] = {}
        answers: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
        # DuckDB first: Trino keeps working for a while after its last query (its JVM
        # collecting, compiling), which took CPU from DuckDB timed after it (headline at
        # 10 M: 1,010 ms against 288 ms measured alone).
        for name in ("duckdb", "trino"):
            engine = Engine(ns, name)
            texts = {q: named(ns, q, days=DAYS, engine=name) for q in QUERIES}
            # Every query once before any is timed: Trino's JIT compiles over a JVM's first
            # queries, not over one query's first run (at 10 M on a stack just started,
            # headline's median was 1,233 ms timed right after its own first run, 544-568
            # ms once every query had run: docs/decisions.md).
            per_query: dict[str, dict[str, Any]] = {}
            for q, sql in texts.items():
                first, rows = timed(engine, sql)
                per_query[q] = {"first_s": first, "rows": len(rows)}
                answers.setdefault(q, {})[name] = comparable(rows)
            for q, sql in texts.items():
                care = not care_ended(settings)
                times = [timed(engine, sql)[0] for _ in range(repeat)]
                care = care or care_running(settings)
                per_query[q].update(median_s=statistics.median(times), table_care=care)
            medians = [per_query[q]["median_s"] for q in REPORT]
            per_engine[name] = {
                "slowest_s": max(medians),
                "total_s": sum(medians),
                "queries": per_query,
                "medians": summary(medians),
            }
            slowest, total = max(medians) * 1000, sum(medians) * 1000
            print(
                f"bench query: {events:,} events, {name}: the report's slowest query {slowest:,.0f} ms, "
                f"its {len(medians)} {total:,.0f} ms (median of {repeat} warm runs)",
                flush=True,
            )
        differ = [q for q, by in answers.items() if by["trino"] != by["duckdb"]]
        if differ:
            print(f"bench query: {events:,} events: Trino and DuckDB return different rows for {differ}", flush=True)
        per_engine["same_rows"] = {q: q not in differ for q in QUERIES}
        results[str(events)] = per_engine
    save(
        settings,
        "query",
        {"repeat": repeat, "queries": list(QUERIES), "report": list(REPORT), "care_wait_s": CARE_WAIT_S,
         "sizes": results},
    )  # fmt: skip
