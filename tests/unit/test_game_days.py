"""The game days: the simulator lives them, the queries of queries/ return the ground truth
computed in Python (kpis.py; here on DuckDB over the plan's own events, on both engines
over a real run in tests/e2e/test_game_days.py), and the report's statistics find each
planted effect and say so when there is none."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from gamepipe import effects, kpis, query, rollup
from gamepipe.config import load_settings
from gamepipe.query import duck_session, named
from gamepipe.report import weighted_median
from gamepipe.simulate import NO_EFFECT, PLANTED, Plan, plan

START = datetime(2026, 11, 1, tzinfo=UTC)
RUN = "20261101-000000-s42"  # a load run's id, of the form gamepipe load makes (rollup.RUN_FORM)
BATCHES = 3  # the rollup's events split over this many micro-batches, so its rows of a key are partial
CHANGE_DAY = (START + timedelta(days=7)).date()  # a day mid-plan, for sword_rates to split at


def events_table(events: list[dict[str, Any]]) -> pa.Table:
    """The plan's events with the columns and types the `events` table has."""

    def text(name: str) -> pa.Array:
        return pa.array([e.get(name) for e in events], pa.string())

    prices = [Decimal(str(e["price"])).quantize(Decimal("0.01")) if "price" in e else None for e in events]
    return pa.table(
        {
            **{name: text(name) for name in ("event_type", "player_id", "session_id")},
            "client_ts": pa.array([kpis.at(e) for e in events], pa.timestamp("us", tz="UTC")),
            "received_at": pa.array([kpis.at(e) for e in events], pa.timestamp("us", tz="UTC")),
            "price": pa.array(prices, pa.decimal128(12, 2)),
            **{name: text(name) for name in ("sword_type", "potion_type", "shield_type")},
        }
    )


FOLD = "(select * from player_sessions where landed = {})"  # one batch's rollup rows
BATCH_EVENTS = "select * from events where hash(session_id, client_ts) % {n} = {i}"  # one batch's events


class Duck:
    """The named queries on DuckDB over one plan's events."""

    def __init__(self, the_plan: Plan) -> None:
        self.con = duck_session(duckdb.connect())
        self.con.register("events", events_table(the_plan.events))
        # The rollups as the stream writes them: one row per key of each of several batches,
        # each batch's rows landed as its number.
        batches = [f"({BATCH_EVENTS.format(n=BATCHES, i=i)})" for i in range(BATCHES)]
        for name, kept in (("player_sessions", rollup.PLAYER_SESSIONS), ("item_days", rollup.ITEM_DAYS)):
            parts = " union all ".join(kept.grouping_sql(b, landed=i) for i, b in enumerate(batches))
            self.con.execute(f"create view {name} as {parts}")
        # players and sessions as table care leaves them: folded twice, the first batch, then
        # the second; the last batch's rows are landed since, read beside them.
        for name, lifetime in (("players", rollup.PLAYERS), ("sessions", rollup.SESSIONS)):
            self.con.execute(f"create table {name} as {lifetime.folding_sql(None, FOLD.format(0), 0, rollup.DUCKDB)}")
            self.con.execute(f"create table folded as {lifetime.folding_sql(name, FOLD.format(1), 1, rollup.DUCKDB)}")
            self.con.execute(f"drop table {name}")
            self.con.execute(f"alter table folded rename to {name}")
        self.run_id = the_plan.run_id

    def rows(self, name: str, engine: str | None = None, **days: date) -> list[tuple[Any, ...]]:
        """The query's rows; `engine`: its text for that engine (DuckDB runs Trino's too)."""
        sql = named(load_settings(), name, self.run_id, days, engine)
        return [tuple(r) for r in self.con.execute(sql).fetchall()]

    def frame(self, name: str, **days: date) -> pd.DataFrame:
        sql = named(load_settings(), name, self.run_id, days)
        cur = self.con.execute(sql)
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description or []])


@pytest.fixture(scope="module")
def demo_plan() -> Plan:
    return plan(42, 500, 20_000, run_id=RUN, start=START)


def test_the_population_lives_its_game_days(demo_plan: Plan) -> None:
    times = [kpis.at(e) for e in demo_plan.events]
    assert min(times) >= START and max(times) < START + timedelta(days=14)
    first_day = {p.player_id: START + timedelta(days=p.install_day) for p in demo_plan.players}
    assert all(t >= first_day[e["player_id"]] for e, t in zip(demo_plan.events, times, strict=True))
    installs = Counter(p.install_day for p in demo_plan.players)
    assert sorted(installs) == list(range(14)), "players install on every day"
    hours = Counter(t.hour for t in times)
    assert hours[20] > 3 * hours[4], "evenings are busier than nights"
    sessions = {e["session_id"] for e in demo_plan.events}
    assert len(sessions) > len(demo_plan.players), "players come back"


def test_the_queries_return_the_ground_truth(demo_plan: Plan) -> None:
    """Every game-day query the report reads, row for row."""
    duck = Duck(demo_plan)
    assert duck.rows("days") == kpis.days(demo_plan.events)
    assert duck.rows("retention") == kpis.retention(demo_plan.events)
    assert duck.rows("funnel") == [kpis.funnel(demo_plan.events)]
    assert duck.rows("revenue_by_day") == kpis.revenue_by_day(demo_plan.events)
    assert duck.rows("session_lengths") == kpis.session_lengths(demo_plan.events)
    assert duck.rows("first_purchase") == kpis.first_purchase(demo_plan.events)
    assert duck.rows("guild_retention") == kpis.guild_retention(demo_plan.events)
    assert duck.rows("sword_rates", change_day=CHANGE_DAY) == kpis.sword_rates(demo_plan.events, CHANGE_DAY)
    assert duck.rows("players") == kpis.players(demo_plan.events)


def dropping_ids(the_plan: Plan, **every: int) -> list[dict[str, Any]]:
    """The plan's first 4,000 events, each n-th one without the id named (the first named
    that applies: `session_id=7, player_id=11` drops only the session id of the 77th)."""
    events = [dict(e) for e in the_plan.events[:4000]]
    for i, e in enumerate(events):
        field = next((f for f, n in every.items() if i % n == 0), None)
        if field is not None:
            e[field] = None
    return events


def test_session_lengths_groups_events_without_a_player_or_session_id(demo_plan: Plan) -> None:
    """`in` matches no null session id, so the sessions without one take a path of their
    own, and a null player id rides in a key: grouped, null with null, as
    kpis.session_lengths groups them (over all data: a run's rows have session ids)."""
    events = dropping_ids(demo_plan, session_id=7, player_id=11)
    duck = Duck(replace(demo_plan, events=events))
    assert duck.con.execute("select count(*) from sessions where session_id is null").fetchone() != (0,)
    assert duck.con.execute("select count(*) from sessions where player_id is null").fetchone() != (0,)
    rows = duck.con.execute(named(load_settings(), "session_lengths")).fetchall()
    assert [tuple(r) for r in rows] == kpis.session_lengths(events)


def test_the_per_day_queries_count_the_events_without_a_player_id_as_one_player(demo_plan: Plan) -> None:
    """A run's events without a player id are one player to kpis.py; with its row in
    `players` and rows landed since, players_by_day lists it once (`exists` on `=`
    matches no null, so those rows take a path of their own; without it the player was
    counted twice, from its row and from the rows landed since)."""
    events = dropping_ids(demo_plan, player_id=11)
    duck = Duck(replace(demo_plan, events=events))
    assert duck.con.execute("select count(*) from players where player_id is null").fetchone() == (1,)
    assert duck.con.execute(
        "select count(*) from player_sessions where player_id is null and landed > 1"
    ).fetchone() != (0,)
    assert duck.rows("days") == kpis.days(events)
    assert duck.rows("retention") == kpis.retention(events)
    assert duck.rows("guild_retention") == kpis.guild_retention(events)
    assert duck.rows("sword_rates", change_day=CHANGE_DAY) == kpis.sword_rates(events, CHANGE_DAY)


def test_a_query_of_an_engine_of_its_own_returns_what_the_shared_text_returns(demo_plan: Plan) -> None:
    """queries/<name>.<engine>.sql, an engine's own text of a query, run here on DuckDB
    (DuckDB's own, and the shared text), returns the rows of the shared text, itself held
    to the truth above; tests/e2e/test_game_days.py runs each on both engines."""
    settings = load_settings()
    own = [p.name.split(".")[:2] for p in settings.queries_dir.glob("*.*.sql") if not p.name.endswith(query.CTE)]
    assert own, "no query has an engine's own text: nothing for this test to check"
    duck = Duck(demo_plan)
    days = {"change_day": CHANGE_DAY}
    for name, engine in own:
        assert named(settings, name, days=days, engine=engine) != named(settings, name, days=days), name
        assert duck.rows(name, engine, change_day=CHANGE_DAY) == duck.rows(name, change_day=CHANGE_DAY), name


@pytest.mark.parametrize("name", ["player_sessions", "item_days"])
def test_the_rollup_merged_is_one_pass_over_the_events(demo_plan: Plan, name: str) -> None:
    """Partial rollup rows of a key, merged as table care merges them, are the row one pass
    over the key's events gives; the queries over the rollup read the same totals as over
    the events."""
    duck = Duck(demo_plan)
    kept = {"player_sessions": rollup.PLAYER_SESSIONS, "item_days": rollup.ITEM_DAYS}[name]
    width = len(kept.key + kept.measures)  # less landed: the batch's number, not a count
    one_pass = [row[:width] for row in duck.con.execute(kept.grouping_sql("events")).fetchall()]
    merged = [row[:width] for row in duck.con.execute(kept.merging_sql(name)).fetchall()]
    assert set(merged) == set(one_pass) and len(merged) == len(one_pass)
    [(partial_rows,)] = duck.con.execute(f"select count(*) from {name}").fetchall()
    assert partial_rows > len(one_pass), "the batches split some keys, so merging had work to do"
    runs = {row[1] for row in one_pass} if name == "item_days" else {RUN}
    assert runs == {RUN}, "item_days keeps the run of each session"
    [(events, players, revenue)] = duck.con.execute(
        "select count(*), count(distinct player_id), sum(price) from events"
    ).fetchall()
    [headline] = duck.rows("headline")
    assert (headline[0], headline[1], headline[3]) == (events, players, revenue)


def test_players_folded_batch_by_batch_hold_each_event_of_those_batches_once(demo_plan: Plan) -> None:
    """Two folds hold the first two batches, a row per run and player; the third batch's
    rows are the ones landed since; together, every event once."""
    duck = Duck(demo_plan)
    folded_events = " union all ".join(BATCH_EVENTS.format(n=BATCHES, i=i) for i in range(2))
    [(events, keys)] = duck.con.execute(
        f"select count(*), count(distinct (regexp_extract(session_id, '^({rollup.RUN_FORM})-', 1), player_id)) "
        f"from ({folded_events})"
    ).fetchall()
    [(held, rows, through)] = duck.con.execute(
        "select sum(event_count), count(*), max(through) from players"
    ).fetchall()
    assert (held, rows, through) == (events, keys, 1)
    # each row's day lists: its days of play in order, and each day's revenue, swords and joins
    by_day = duck.con.execute(
        f"""select regexp_extract(session_id, '^({rollup.RUN_FORM})-', 1), player_id, cast(client_ts as date),
                   coalesce(sum(price), 0), count(case when event_type = 'purchase_sword' then 1 end),
                   count(case when event_type = 'join_guild' then 1 end)
            from ({folded_events}) group by 1, 2, 3 order by 1, 2, 3"""
    ).fetchall()
    unlisted = duck.con.execute(
        "select p.run, p.player_id, x.day, p.day_revenues[x.i], p.day_swords[x.i], p.day_joins[x.i] "
        "from players p cross join unnest(p.days) with ordinality as x (day, i) order by 1, 2, 3"
    ).fetchall()
    assert unlisted == by_day
    assert duck.con.execute("select count(*) from players where days <> list_sort(days)").fetchall() == [(0,)]
    [(since,)] = duck.con.execute("select sum(event_count) from player_sessions where landed > 1").fetchall()
    [(total,)] = duck.con.execute("select count(*) from events").fetchall()
    assert since > 0 and held + since == total


def test_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998), example (a): 56/70 against 48/80 -> 0.2000, 95 % CI 0.0524 to 0.3339.
    d, low, high = effects.newcombe(56, 70, 48, 80)
    assert (round(d, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)


@pytest.mark.parametrize("planted", [PLANTED, NO_EFFECT], ids=["planted", "no effect"])
def test_each_planted_effect_is_found_and_none_where_none_was_planted(planted: Any) -> None:
    the_plan = plan(3, 2000, 80_000, run_id="20261101-000000-s3", start=START, effects=planted)
    duck = Duck(the_plan)
    last_day = max(kpis.at(e) for e in the_plan.events).date()
    guild = effects.guild_retention(duck.frame("guild_retention"), last_day)
    assert guild is not None and guild.low <= planted.d7_lift <= guild.high
    assert guild.clear == (planted.d7_lift > 0)
    change = effects.price_change_day(duck.frame("revenue_by_day"))
    assert change == CHANGE_DAY, "prices rose on game day 7 in both runs"
    price = effects.price_change(duck.frame("sword_rates", change_day=change), change)
    assert price is not None and price.low <= planted.sword_rate_after <= price.high
    assert price.clear == (planted.sword_rate_after != 1.0)


def test_the_median_of_a_histogram_counts_each_value_its_times() -> None:
    values, weights = pd.Series([3, 1, 2]), pd.Series([1, 1, 1])
    assert weighted_median(values, weights) == 2
    assert weighted_median(pd.Series([1, 2]), pd.Series([1, 1])) == 1, "the lower of an even count"
    assert weighted_median(pd.Series([1, 5]), pd.Series([1, 3])) == 5
    assert weighted_median(pd.Series([1]), pd.Series([0])) is None
