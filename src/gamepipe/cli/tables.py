"""`gamepipe query | report | maintain | replay`: what is in the tables, and their care."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gamepipe.cli.common import console, fail, say, settings, show_result

app = typer.Typer()
PANEL = "The tables"


@app.command(rich_help_panel=PANEL)
def query(
    sql: Annotated[str, typer.Argument(help="SQL, or @name for queries/<name>.sql")],
    day: Annotated[
        list[str] | None, typer.Option(help="NAME=YYYY-MM-DD: a date a named query needs (repeatable)")
    ] = None,
) -> None:
    """Run SQL on Trino (catalog hive, schema default: the seed's Presto session)."""
    from datetime import date

    from gamepipe import query as q

    s = settings()
    days = {}
    for item in day or []:
        key, _, value = item.partition("=")
        try:
            days[key] = date.fromisoformat(value)
        except ValueError:
            fail(f"--day {item!r}: give NAME=YYYY-MM-DD, e.g. change_day=2026-11-20")
    text = q.named(s, sql[1:], days=days, engine="trino") if sql.startswith("@") else sql
    show_result(text.strip(), q.run(s, text))


@app.command(rich_help_panel=PANEL)
def report(
    run: Annotated[str, typer.Option(help="a load run id (default: the latest; 'all' for all data)")] = "",
    engine: Annotated[str, typer.Option(help="trino (default) or duckdb (embedded)")] = "trino",
) -> None:
    """Execute the analytics notebook and render reports/report.html."""
    from gamepipe import report as rp
    from gamepipe.manifest import latest_run
    from gamepipe.query import ENGINES

    s = settings()
    if engine not in ENGINES:
        fail(f"unknown engine {engine!r}; use {' or '.join(ENGINES)}")
    run_id = None if run == "all" else (run or latest_run(s))
    say(f"rendering the report ({'run ' + run_id if run_id else 'all data'}, engine {engine})")
    say(f"report: {rp.render(s, run_id, engine)}")


@app.command(rich_help_panel=PANEL)
def maintain(
    table: Annotated[
        list[str] | None, typer.Option(help="a table (repeatable); default: all the stream writes")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON line")] = False,
) -> None:
    """Compact small files, expire old snapshots, remove orphan files (Iceberg procedures)."""
    from gamepipe.log import for_services
    from gamepipe.stream.maintain import CARE_JAVA_OPTIONS, CARE_MASTER, report_json
    from gamepipe.stream.maintain import maintain as do_maintain
    from gamepipe.stream.session import build_session

    s = settings()
    if as_json:
        for_services()  # the one JSON line alone on stdout; log lines to stderr
    else:
        say("starting a Spark session for table care (about 20 s)")
    memory = s.stream.maintain_memory
    spark = build_session(s, "gamepipe-maintain", master=CARE_MASTER, memory=memory, java_options=CARE_JAVA_OPTIONS)
    try:
        result = do_maintain(spark, s, table or None)
    finally:
        spark.stop()
    if as_json:
        print(report_json(result), flush=True)
        return
    out = Table("table", "files rewritten", "files added", "expired data files", "orphans removed")
    for name, r in result.items():
        counts = (r.files_rewritten, r.files_added, r.snapshots_expired_data_files, r.orphan_files_removed)
        out.add_row(name, *(str(n) for n in counts))
    console.print(out)


@app.command(rich_help_panel=PANEL)
def replay(
    tables: Annotated[list[str], typer.Argument(help="tables to rebuild, e.g. sword_purchases events")],
    from_: Annotated[
        str, typer.Option("--from", help="earliest, a time (2026-11-28T10:00:00Z) or offsets JSON")
    ] = "earliest",
    to: Annotated[str, typer.Option(help="latest, a time or offsets JSON")] = "latest",
    suffix: Annotated[str, typer.Option(help="new table = <table><suffix>")] = "_replay",
    replace: Annotated[bool, typer.Option(help="drop and rebuild new tables that exist already")] = False,
) -> None:
    """Rebuild tables from Kafka into new tables (the stream's parsing, routing, dedup)."""
    from gamepipe.events import load_contract
    from gamepipe.stream.replay import check_request, position
    from gamepipe.stream.replay import replay as do_replay
    from gamepipe.stream.session import build_session

    s = settings()
    check_request(s, tables, suffix)  # before the Spark session: a refusal comes at once
    start, end = position(from_, start=True), position(to, start=False)
    say(f"replaying {s.kafka.topic} from {from_} to {to} into {[t + suffix for t in tables]}")
    spark = build_session(s, app_name="gamepipe-replay")
    try:
        do_replay(spark, s, load_contract(s.schemas_dir), tables, start, end, suffix, replace)
    finally:
        spark.stop()
    say("replay done")
