"""Running SQL: errors a user can act on, named queries filled, the benchmark timing the
queries the report runs."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import nbformat
import pytest

from bench.query import REPORT
from gamepipe import query
from gamepipe.config import load_settings
from gamepipe.errors import EngineUnavailable, QueryRefused
from gamepipe.query import DuckDB, named
from gamepipe.stack.base import free_port


def test_a_query_with_trino_down_says_to_start_the_stack() -> None:
    settings = load_settings()
    down = settings.model_copy(update={"trino": settings.trino.model_copy(update={"port": free_port()})})
    with pytest.raises(EngineUnavailable, match="is the stack up"):
        query.run(down, "select 1")


def test_a_named_query_is_given_its_dates_or_says_which_it_needs() -> None:
    settings = load_settings()
    with pytest.raises(QueryRefused, match="needs change_day"):
        named(settings, "sword_rates", "20261101-000000-s1")
    sql = named(settings, "sword_rates", "20261101-000000-s1", {"change_day": date(2026, 11, 20)})
    assert "date '2026-11-20'" in sql and not query.PLACEHOLDER.search(sql)
    assert "session_id like '20261101-000000-s1-%'" in sql
    assert "run = '20261101-000000-s1'" in named(settings, "revenue_by_day", "20261101-000000-s1")
    with pytest.raises(QueryRefused, match="not of the form gamepipe load writes"):
        named(settings, "revenue_by_day", "r1")


def test_a_shared_cte_is_not_a_query_of_its_own() -> None:
    with pytest.raises(QueryRefused, match=r"no query named 'players_by_day\.cte'") as refused:
        named(load_settings(), "players_by_day.cte")
    assert "days," in str(refused.value) and "players_by_day" not in str(refused.value).split("known:")[1]


def test_a_query_reads_a_shared_cte_filled_in_as_its_own_text() -> None:
    text = named(load_settings(), "retention", "20261101-000000-s42")
    assert not query.PLACEHOLDER.search(text), "every placeholder filled"
    assert text.count("players_by_day as (") == 1
    assert "session_id like '20261101-000000-s42-%'" in text and "run = '20261101-000000-s42'" in text


def test_an_engine_s_own_text_stands_for_the_marked_part_only() -> None:
    begins, ends = query.PART_BEGINS, query.PART_ENDS
    shared = f"with a as (select 1 as x),\n{begins}\nb as (select x from a),\n{ends}\nc as (select 2)\n"
    assert query.with_part(shared, "b as (select x + 1 as x from a),\n", "q.sql") == (
        "with a as (select 1 as x),\nb as (select x + 1 as x from a),\nc as (select 2)\n"
    )
    with pytest.raises(QueryRefused, match=r"q\.sql has an engine's own text but not one part marked"):
        query.with_part(shared.replace(query.PART_ENDS, ""), "b as (select 3),\n", "q.sql")
    with pytest.raises(QueryRefused, match="not one part marked"):  # two beginnings are no part
        query.with_part(shared.replace(query.PART_ENDS, query.PART_BEGINS), "b as (select 3),\n", "q.sql")


def test_the_query_benchmark_times_every_query_the_report_runs_on_the_events() -> None:
    settings = load_settings()
    notebook = nbformat.read(settings.root / "notebooks" / "report.ipynb", as_version=4)  # type: ignore[no-untyped-call]
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    used = set(re.findall(r'df\("([a-z_]+)"', code)) | ({"headline"} if "report.headline()" in code else set())
    tables = r"\bfrom (events|sword_purchases|join_guilds|player_sessions|item_days)\b"
    on_events = {n for n in used if re.search(tables, named(settings, n, days={"change_day": date(2026, 11, 20)}))}
    assert on_events == set(REPORT)


def test_duckdb_makes_a_view_only_of_the_tables_a_query_reads() -> None:
    duck = DuckDB.__new__(DuckDB)  # no catalog: only which tables `_load` picks is looked at
    duck._tables, duck._loaded = {"events", "player_sessions", "join_guilds"}, set()
    made: list[str] = []
    duck._view = made.append  # type: ignore[method-assign,assignment]
    duck._load('select sum(event_count) as events from player_sessions p join "join_guilds" g on true')
    assert sorted(made) == ["join_guilds", "player_sessions"]
    duck._load("select count(*) from hive.default.events")
    assert sorted(made) == ["events", "join_guilds", "player_sessions"]


def test_duckdb_shows_an_instant_as_its_utc_time_and_filters_on_it_alike(tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    path = tmp_path / "t.parquet"
    con.execute(
        "copy (select timestamptz '2026-11-20 23:59:59.5+00' + to_microseconds(i) as received_at, i "
        f"from range(3) r(i)) to '{path}'"
    )
    columns = ", ".join(
        [query._duck_column("received_at", "timestamptz", True), query._duck_column("client_ts", "timestamptz", False)]
    )
    con.execute(f"create view t as select {columns} from read_parquet('{path}')")
    assert [r[1] for r in con.execute("describe t").fetchall()] == ["TIMESTAMP", "TIMESTAMP"]
    first = con.execute("select min(received_at), cast(min(received_at) as date), count(client_ts) from t").fetchone()
    assert first == (datetime(2026, 11, 20, 23, 59, 59, 500000), date(2026, 11, 20), 0)
    after = "select count(*) from t where received_at > timestamptz '2026-11-20 23:59:59.500001+00'"
    assert con.execute(after).fetchone() == (1,)


def test_a_list_column_no_file_has_yet_reads_as_a_typed_null_list() -> None:
    import duckdb

    con = duckdb.connect()
    column = query._duck_column("day_revenues", "list<decimal(18, 2)>", False)
    con.execute(f"create view v as select {column}")
    assert con.execute("describe v").fetchall()[0][:2] == ("day_revenues", "DECIMAL(18,2)[]")
