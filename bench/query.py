"""Query speed: the report's queries on 1e5, 1e6 and 1e7 events, Trino (warm) vs DuckDB.

The events are written as Iceberg through Spark, straight into tables of their own
(namespace `bench_<n>`, the stream's DDL), shaped like the game's: a skewed population
over one day, the seed's hosts, swords with their prices, guilds, potions, shields.
Kept between runs (regenerated only when missing or of another size). Each query runs
once untimed (Trino: warm caches and JIT; DuckDB: the view over the files), then
`repeat` times; the figure is each query's median, and the slowest query's median.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import save
from gamepipe.config import Settings
from gamepipe.errors import QueryError
from gamepipe.query import Engine, named
from gamepipe.stats import summary

# The report's queries (queries/*.sql) that read the event tables.
QUERIES = ("headline", "events_by_type", "revenue_by_item", "swords_by_type", "guild_joins", "top_spenders",
           "players_by_isp", "activity_by_minute", "guild_members_vs_others")  # fmt: skip
PLAYERS_PER_EVENT = 0.01  # 1e7 events: 100,000 players


def namespace_settings(settings: Settings, namespace: str) -> Settings:
    catalog = settings.catalog.model_copy(update={"namespace": namespace})
    trino = settings.trino.model_copy(update={"schema_": namespace})
    return settings.model_copy(update={"catalog": catalog, "trino": trino})


def existing_rows(settings: Settings) -> int | None:
    try:
        return int(Engine(settings, "trino").run("select count(*) from events").scalar())
    except QueryError:
        return None


def generate(settings: Settings, events: int) -> None:
    """Write `events` rows into the namespace's events, sword_purchases and join_guilds."""
    from gamepipe.events import load_contract
    from gamepipe.stream.catalog import create_tables, table_name
    from gamepipe.stream.session import build_session

    spark = build_session(settings, app_name="gamepipe-bench-data")
    try:
        contract = load_contract(settings.schemas_dir)
        ns = f"{settings.catalog.name}.`{settings.catalog.namespace}`"
        for table in settings.stream.tables:
            spark.sql(f"DROP TABLE IF EXISTS {ns}.{table} PURGE")
        create_tables(spark, settings, contract)
        players = max(10, int(events * PLAYERS_PER_EVENT))
        spark.range(events).createOrReplaceTempView("ids")
        spark.sql(f"""
create or replace temp view generated as
with e as (
  select id,
    -- a skewed population: player k is drawn with weight ~ 1/(k+1)
    cast(floor(pow({players}, rand(7))) - 1 as bigint) as p,
    rand(11) as r, rand(13) as q,
    timestamp '2026-11-27 00:00:00' + make_interval(0, 0, 0, 0, 0, 0, id * 86400.0 / {events}) as at
  from ids
)
select
  case when r < 0.30 then 'purchase_sword' when r < 0.40 then 'join_guild' when r < 0.55 then 'purchase_potion'
       when r < 0.60 then 'purchase_shield' else 'default' end as event_type,
  concat('p', p) as player_id, q, at, id,
  element_at(array('comcast.com', 'att.com', 'verizon.net', 'spectrum.net', 'cox.net', 'vodafone.de'),
             cast(p % 6 as int) + 1) as isp
from e""")
        spark.sql("""
create or replace temp view rows as
select
  to_json(named_struct('event_type', event_type, 'player_id', player_id, 'id', id)) as raw_event,
  at as timestamp, '*/*' as accept, concat('user', cast(id % 50 as string), '.', isp) as host,
  'ApacheBench/2.3' as user_agent, event_type, uuid() as event_id, cast(1 as bigint) as schema_version,
  at as received_at, at as client_ts, player_id, concat('bench-', player_id, '-', cast(id % 7 as string)) as session_id,
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
        spark.sql(f"insert into {table_name(settings, 'events')} select {', '.join(columns)} from rows")
        for event_type, table in settings.stream.routes.items():
            cols = ", ".join(n for n, _ in contract.table_columns(event_type))
            spark.sql(
                f"insert into {table_name(settings, table)} select {cols} from {table_name(settings, 'events')}"
                f" where event_type = '{event_type}'"
            )
    finally:
        spark.stop()


def timed(engine: Engine, sql: str, repeat: int) -> tuple[float, float]:
    """(first run, median of the next `repeat`) in seconds."""
    began = time.perf_counter()
    engine.run(sql)
    first = time.perf_counter() - began
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        engine.run(sql)
        times.append(time.perf_counter() - began)
    return first, statistics.median(times)


def run(settings: Settings, sizes: tuple[int, ...] = (100_000, 1_000_000, 10_000_000), repeat: int = 5) -> None:
    results: dict[str, Any] = {}
    for events in sizes:
        ns = namespace_settings(settings, f"bench_{events}")
        if existing_rows(ns) != events:
            began = time.monotonic()
            print(f"bench query: writing {events:,} events as Iceberg through Spark", flush=True)
            generate(ns, events)
            print(f"bench query: written in {time.monotonic() - began:.0f} s", flush=True)
        per_engine: dict[str, Any] = {}
        for name in ("trino", "duckdb"):
            engine = Engine(ns, name)
            per_query = {}
            for q in QUERIES:
                first, median = timed(engine, named(ns, q), repeat)
                per_query[q] = {"first_s": first, "median_s": median}
            medians = [v["median_s"] for v in per_query.values()]
            per_engine[name] = {
                "slowest_s": max(medians),
                "total_s": sum(medians),
                "queries": per_query,
                "medians": summary(medians),
            }
            slowest, total = max(medians) * 1000, sum(medians) * 1000
            print(
                f"bench query: {events:,} events, {name}: slowest query {slowest:,.0f} ms, all {len(medians)} "
                f"{total:,.0f} ms (median of {repeat} warm runs)",
                flush=True,
            )
        results[str(events)] = per_engine
    save(settings, "query", {"repeat": repeat, "queries": list(QUERIES), "sizes": results})
